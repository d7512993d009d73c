-- ExcavationQuery.Near selects works whose site's bounding box meets a
-- box, so that the clash check of an application to dig reads the works
-- near it rather than every open work in the city. The store copies the
-- site's box into four columns (NULL for works without a site) and
-- compares them exactly; the GiST index over the built-in box type, on an
-- expression of the columns, finds the rows. Its && is fuzzy (boxes a
-- millionth of a degree apart overlap), so the exact comparisons stay in
-- the query. No extension is needed.
ALTER TABLE govkit_permit_excavation
    ADD COLUMN site_min_lat double precision,
    ADD COLUMN site_min_lon double precision,
    ADD COLUMN site_max_lat double precision,
    ADD COLUMN site_max_lon double precision;

-- Existing rows take their box from the document's site: the text of a
-- number in jsonb converts to the float8 the store wrote.
UPDATE govkit_permit_excavation e
SET (site_min_lat, site_min_lon, site_max_lat, site_max_lon) = (
    SELECT min((p->>'lat')::float8), min((p->>'lon')::float8), max((p->>'lat')::float8), max((p->>'lon')::float8)
    FROM jsonb_array_elements(e.doc->'site') AS p)
WHERE jsonb_typeof(e.doc->'site') = 'array';

CREATE INDEX govkit_permit_excavation_site_idx ON govkit_permit_excavation
    USING gist (box(point(site_min_lon, site_min_lat), point(site_max_lon, site_max_lat)));

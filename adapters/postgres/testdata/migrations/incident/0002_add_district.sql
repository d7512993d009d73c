ALTER TABLE incidents ADD COLUMN district text NOT NULL DEFAULT '';
CREATE INDEX incidents_district_idx ON incidents (district);

-- govkit risk store: risk points, buildings, area warnings, enterprises,
-- inspections, and which rows of the shared govkit_outbox this store
-- wrote.
--
-- Text keys use the "C" collation: their order (IDs) and their prefix
-- ranges (grid and region subtrees) are then bytewise, as in Go, whatever
-- the database's default collation.

-- One row per risk point. doc holds the whole point (the names and phone
-- numbers of the people responsible sealed with AES-GCM); the other
-- columns copy what the store's queries filter on or return as hits.
CREATE TABLE govkit_risk_point (
    id         uuid               PRIMARY KEY,
    version    bigint             NOT NULL,
    name       text               NOT NULL,
    class      text COLLATE "C"   NOT NULL,
    grid       text COLLATE "C"   NOT NULL,
    enterprise text COLLATE "C"   NOT NULL,
    colour     smallint           NOT NULL,
    signalled  boolean            NOT NULL,
    shape      text               NOT NULL,
    lat        double precision   NOT NULL,
    lon        double precision   NOT NULL,
    sensors    text[] COLLATE "C" NOT NULL,
    doc        jsonb              NOT NULL,
    updated_at timestamptz        NOT NULL DEFAULT now()
);

-- Points: a grid subtree (a range of grid codes), classes, an enterprise's
-- points and the points at a colour, each in ID order, and the signalled
-- points. PointsBySensor: the linked sensors (sensors @> ARRAY[...]).
CREATE INDEX govkit_risk_point_grid_idx ON govkit_risk_point (grid);
CREATE INDEX govkit_risk_point_class_idx ON govkit_risk_point (class, id);
CREATE INDEX govkit_risk_point_enterprise_idx ON govkit_risk_point (enterprise, id);
CREATE INDEX govkit_risk_point_colour_idx ON govkit_risk_point (colour, id);
CREATE INDEX govkit_risk_point_signalled_idx ON govkit_risk_point (id) WHERE signalled;
CREATE INDEX govkit_risk_point_sensors_idx ON govkit_risk_point USING gin (sensors);

-- PointsNear: a bounding box around the centre, on an R-tree (GiST) over
-- the anchor's longitude and latitude, with PostgreSQL's built-in point
-- type (no PostGIS). The index carries what a hit returns, so the box is
-- answered from the index alone; the exact great-circle test runs in Go.
CREATE INDEX govkit_risk_point_anchor_idx ON govkit_risk_point
    USING gist (point(lon, lat)) INCLUDE (id, lat, lon, name, class, grid, colour, shape);

-- Buildings, replaced whole by ID. BuildingsNear as PointsNear.
CREATE TABLE govkit_risk_building (
    id         text COLLATE "C" PRIMARY KEY,
    name       text             NOT NULL,
    lat        double precision NOT NULL,
    lon        double precision NOT NULL,
    grid       text COLLATE "C" NOT NULL,
    occupancy  bigint           NOT NULL,
    kind       text             NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX govkit_risk_building_point_idx ON govkit_risk_building
    USING gist (point(lon, lat)) INCLUDE (id, name, lat, lon, grid, occupancy, kind);

-- Area warnings, whole in doc; the period is copied for reports (NULL for
-- a zero time).
CREATE TABLE govkit_risk_warning (
    id           text COLLATE "C" PRIMARY KEY,
    version      bigint           NOT NULL,
    jurisdiction text COLLATE "C" NOT NULL,
    valid_from   timestamptz,
    valid_until  timestamptz,
    doc          jsonb            NOT NULL,
    updated_at   timestamptz      NOT NULL DEFAULT now()
);

-- Enterprises: Enterprises lists a region's subtree in ID order.
CREATE TABLE govkit_risk_enterprise (
    id         text COLLATE "C" PRIMARY KEY,
    version    bigint           NOT NULL,
    region     text COLLATE "C" NOT NULL,
    tier       text             NOT NULL,
    doc        jsonb            NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX govkit_risk_enterprise_region_idx ON govkit_risk_enterprise (region);

-- Inspections: Inspections filters on enterprise, period and status.
CREATE TABLE govkit_risk_inspection (
    id         uuid             PRIMARY KEY,
    version    bigint           NOT NULL,
    enterprise text COLLATE "C" NOT NULL,
    region     text COLLATE "C" NOT NULL,
    period     text COLLATE "C" NOT NULL,
    status     smallint         NOT NULL,
    doc        jsonb            NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX govkit_risk_inspection_enterprise_idx ON govkit_risk_inspection (enterprise, period);
CREATE INDEX govkit_risk_inspection_period_idx ON govkit_risk_inspection (period, status);

-- The outbox is shared by every store; this table marks the messages the
-- risk store wrote, so that its Pending returns those alone. The key is
-- deferred: the mark is written before the message, in the same
-- transaction. Pruning published messages from govkit_outbox prunes their
-- marks with them.
CREATE TABLE govkit_risk_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

-- govkit sensor readings: the raw history that ReadingSink writes with
-- COPY, one row per accepted reading. Rows are only ever inserted.

CREATE TABLE govkit_sensor_reading (
    device_id text             NOT NULL,
    resource  text             NOT NULL,
    value     double precision NOT NULL,
    unit      text             NOT NULL,
    observed  timestamptz      NOT NULL,
    received  timestamptz      NOT NULL,
    -- The device's sequence number (0: unnumbered); numbers above
    -- 2^63-1 are stored as their two's-complement bigint.
    seq       bigint           NOT NULL,
    -- sensor.Quality: 0 good, 1 late.
    quality   smallint         NOT NULL
);

-- A device's history of one resource over a time window: the query of
-- rule backtests, charts and vital-sign windows.
CREATE INDEX govkit_sensor_reading_device_idx
    ON govkit_sensor_reading (device_id, resource, observed);

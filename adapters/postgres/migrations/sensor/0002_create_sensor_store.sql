-- govkit sensor store: what sensor.Store keeps across restarts (device
-- profiles, devices, alarm rules, alarms and vital-sign definitions).
-- Each record is whole in doc, a JSON document of every field; the
-- columns beside it copy what queries filter on, so that they can be
-- indexed. Keys and filtered text are in the "C" collation: they sort
-- bytewise, as Go strings do, and LIKE 'prefix%' uses their indexes.

-- Profiles, by name; never replaced.
CREATE TABLE govkit_sensor_profile (
    name text COLLATE "C" PRIMARY KEY,
    doc  jsonb NOT NULL
);

-- Devices, removed ones included, with an optimistic version. Devices
-- pages by ID, through a grid subtree or a profile.
CREATE TABLE govkit_sensor_device (
    id         text COLLATE "C" PRIMARY KEY,
    version    bigint           NOT NULL,
    profile    text COLLATE "C" NOT NULL,
    grid       text COLLATE "C" NOT NULL,
    doc        jsonb            NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX govkit_sensor_device_grid_idx ON govkit_sensor_device (grid, id);
CREATE INDEX govkit_sensor_device_profile_idx ON govkit_sensor_device (profile, id);

-- Alarm rules, by ID.
CREATE TABLE govkit_sensor_rule (
    id  text COLLATE "C" PRIMARY KEY,
    doc jsonb NOT NULL
);

-- Alarms, open and cleared (cancelled ones are deleted), with the
-- engine's version. The engine restores the open ones at start-up
-- (status 1 pending, 2 active); people look them up by rule, device,
-- asset and grid subtree.
CREATE TABLE govkit_sensor_alarm (
    id         text COLLATE "C" PRIMARY KEY,
    version    bigint           NOT NULL,
    kind       smallint         NOT NULL,
    status     smallint         NOT NULL,
    rule       text COLLATE "C" NOT NULL,
    device     text COLLATE "C" NOT NULL,
    asset      text COLLATE "C" NOT NULL,
    grid       text COLLATE "C" NOT NULL,
    acked      boolean          NOT NULL,
    doc        jsonb            NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX govkit_sensor_alarm_open_idx ON govkit_sensor_alarm (id) WHERE status IN (1, 2);
CREATE INDEX govkit_sensor_alarm_status_idx ON govkit_sensor_alarm (status, id);
CREATE INDEX govkit_sensor_alarm_rule_idx ON govkit_sensor_alarm (rule, id);
CREATE INDEX govkit_sensor_alarm_device_idx ON govkit_sensor_alarm (device, id);
CREATE INDEX govkit_sensor_alarm_asset_idx ON govkit_sensor_alarm (asset, id) WHERE asset <> '';
CREATE INDEX govkit_sensor_alarm_grid_idx ON govkit_sensor_alarm (grid);

-- Vital-sign definitions, by name.
CREATE TABLE govkit_sensor_vital_sign (
    name text COLLATE "C" PRIMARY KEY,
    doc  jsonb NOT NULL
);

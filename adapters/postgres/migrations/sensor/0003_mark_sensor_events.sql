-- The sensor store's view of the shared outbox: the alarm events it wrote
-- with their alarms, so that its Pending never returns another
-- component's events.
CREATE TABLE govkit_sensor_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

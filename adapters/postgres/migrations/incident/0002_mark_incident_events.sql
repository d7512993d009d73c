-- The incident store's view of the shared outbox: the messages it wrote,
-- so that its Pending never returns another component's events.
CREATE TABLE govkit_incident_event (
    id uuid PRIMARY KEY REFERENCES govkit_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

-- Events written before this migration carry the incident kind header.
INSERT INTO govkit_incident_event (id)
SELECT id FROM govkit_outbox WHERE headers ->> 'govkit-kind' = 'incident'
ON CONFLICT DO NOTHING;

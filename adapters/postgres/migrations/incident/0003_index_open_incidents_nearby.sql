-- Duplicate search (Nearby) reads the open cases of one category in a
-- few cells. The (category, cell) index made it read every case ever
-- filed there, closed ones too, so a report cost more with every year of
-- history. This index holds only open cases (the list is Status.Open's,
-- and the store's query names it literally so that the planner can use
-- it), with what the ranking needs, so the first read of a search need
-- not touch the table. The old index served nothing else.
CREATE INDEX govkit_incident_open_nearby_idx ON govkit_incident (category, cell, reported_at)
    INCLUDE (id, lat, lon) WHERE status IN (1, 2, 3, 5, 6, 7, 8);
DROP INDEX govkit_incident_nearby_idx;

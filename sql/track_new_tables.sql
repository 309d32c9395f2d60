-- Tracks the tables created in tracked schemas since the last pass (migrations/000006_track_schema),
-- as the capture owner: what it tracked (tracked true) and what it could not, with the reason.
-- A table it could not lock in time is left for the next pass and not listed.
SELECT table_name, tracked, reason FROM pgfanout.track_new_tables()

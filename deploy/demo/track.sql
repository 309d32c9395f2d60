-- Start capturing changes of the demo tables on the source. Run after the
-- capture migration (`publisher migrate`). pgfanout.track is a no-op for an
-- already tracked table, so this is safe on every `docker compose up`.
\set ON_ERROR_STOP on
SELECT pgfanout.track('demo.customers');
SELECT pgfanout.track('demo.orders');
SELECT pgfanout.track('demo.events');
SELECT * FROM pgfanout.tracked();

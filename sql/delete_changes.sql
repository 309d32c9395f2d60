-- Removes the entries whose changes RabbitMQ confirmed: one statement per batch.
DELETE FROM pgfanout.changes WHERE version = ANY($1::bigint[])

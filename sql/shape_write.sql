-- Records the shape of source table $1.$2 that the replica now follows: $3 the shape, $4 the
-- names of older images, $5 the source's shape hash ('' when not known).
INSERT INTO pgfanout.shapes (schema_name, table_name, shape, names, hash, followed_at)
VALUES ($1, $2, $3, $4, $5, clock_timestamp())
ON CONFLICT (schema_name, table_name) DO UPDATE
SET shape = excluded.shape, names = excluded.names, hash = excluded.hash, followed_at = excluded.followed_at

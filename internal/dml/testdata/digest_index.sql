CREATE INDEX CONCURRENTLY IF NOT EXISTS "pgfanout_digest_42" ON "public"."Événements" USING hash (pgfanout.row_digest(ROW("kind", "x y")))

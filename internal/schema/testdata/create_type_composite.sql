CREATE TYPE "Sales ""EU"".v2"."addr.ess" AS (
  "Street" text COLLATE "pg_catalog"."C",
  "zip code" character varying(10),
  "tägs" "Sales ""EU"".v2"."Status; DROP TYPE x; --"[],
  "m" "Sales ""EU"".v2"."Mönëy"
)

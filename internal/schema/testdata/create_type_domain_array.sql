CREATE DOMAIN "Sales ""EU"".v2"."Tags" AS "Sales ""EU"".v2"."Status; DROP TYPE x; --"[] COLLATE "pg_catalog"."C" DEFAULT ('{new}'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"[])

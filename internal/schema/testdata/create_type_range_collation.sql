CREATE TYPE "public"."textrange" AS RANGE (SUBTYPE = text, COLLATION = "pg_catalog"."C")

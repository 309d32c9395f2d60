CREATE TYPE "public"."Float Range" AS RANGE (SUBTYPE = double precision, SUBTYPE_OPCLASS = "pg_catalog"."float8_ops", MULTIRANGE_TYPE_NAME = "public"."Float Multi")

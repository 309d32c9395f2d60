ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" ADD COLUMN "created" timestamp(3) with time zone

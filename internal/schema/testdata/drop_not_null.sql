ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" ALTER COLUMN "line no" DROP NOT NULL

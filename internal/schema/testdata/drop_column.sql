ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" DROP COLUMN "note;--"

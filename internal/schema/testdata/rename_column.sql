ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" RENAME COLUMN "line no" TO "note;--"

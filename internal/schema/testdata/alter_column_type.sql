ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" ALTER COLUMN "geo" TYPE "ext"."geometry"(Point,4326) USING "geo"::"ext"."geometry"(Point,4326)

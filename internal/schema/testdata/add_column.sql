ALTER TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" ADD COLUMN "status" "Sales ""EU"".v2"."Status; DROP TYPE x; --" DEFAULT ('new'::"Sales ""EU"".v2"."Status; DROP TYPE x; --") NOT NULL

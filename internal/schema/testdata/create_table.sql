CREATE TABLE "Sales ""EU"".v2"."Ördérs; DROP TABLE x; --" (
  "Id" bigint NOT NULL,
  "line no" integer NOT NULL,
  "status" "Sales ""EU"".v2"."Status; DROP TYPE x; --" NOT NULL DEFAULT ('new'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"),
  "amount" "Sales ""EU"".v2"."Mönëy",
  "addr" "Sales ""EU"".v2"."addr.ess",
  "history" "Sales ""EU"".v2"."addr.ess"[][],
  "span" "public"."Float Range",
  "created" timestamp(3) with time zone NOT NULL,
  "names" character varying(20)[] DEFAULT ('{a}'::character varying(20)[]),
  "dur" interval day to second,
  "total" numeric,
  "note;--" text COLLATE "pg_catalog"."C" DEFAULT ('x'::text),
  "geo" "ext"."geometry"(Point,4326),
  CONSTRAINT "Ördérs_pkey ""x""" PRIMARY KEY ("Id", "line no")
)

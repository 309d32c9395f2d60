CREATE DOMAIN "Sales ""EU"".v2"."Mönëy" AS numeric(12,2) NOT NULL DEFAULT (0)

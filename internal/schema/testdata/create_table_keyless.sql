CREATE TABLE "public"."Événements" (
  "kind" text,
  "x y" jsonb
)

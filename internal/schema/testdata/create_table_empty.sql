CREATE TABLE "s"."t" (
)

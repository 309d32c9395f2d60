SELECT count(*), coalesce(sum((coalesce(hashtextextended(t."kind"::text, 1), -1) # coalesce(hashtextextended(t."x y"::text, 2), -2))), 0)::text FROM "public"."Événements" AS t WHERE true

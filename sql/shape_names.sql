-- The names older row images of replica table $1.$2 may use (renamed and dropped columns), for
-- the apply path; no row when the table never changed shape.
SELECT names FROM pgfanout.shapes WHERE schema_name = $1 AND table_name = $2

ALTER TYPE "Sales ""EU"".v2"."Status; DROP TYPE x; --" ADD VALUE IF NOT EXISTS 'it''s' AFTER 'new'

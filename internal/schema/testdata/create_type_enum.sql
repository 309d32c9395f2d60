CREATE TYPE "Sales ""EU"".v2"."Status; DROP TYPE x; --" AS ENUM ('new', 'it''s', E'back\\slash', 'größe', '{x}')

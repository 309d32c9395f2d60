-- Demo schema, loaded by the postgres image's /docker-entrypoint-initdb.d on the
-- source's first start, and on each replica's by deploy/replica/initdb/20-demo-schema.sql
-- as the replicator's role: the replicator applies rows to existing tables, it does not
-- create them yet (docs/schema.md). `make demo` loads it into its databases too. Run it by
-- hand, as the replicator's role, on any other replica.
CREATE SCHEMA IF NOT EXISTS demo;

CREATE TABLE IF NOT EXISTS demo.customers (
    id         bigint PRIMARY KEY,
    name       text        NOT NULL,
    email      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS demo.orders (
    id          bigint PRIMARY KEY,
    customer_id bigint        NOT NULL,
    amount      numeric(12,2) NOT NULL,
    status      text          NOT NULL DEFAULT 'new',
    created_at  timestamptz   NOT NULL DEFAULT now()
);
-- No foreign key to customers on purpose: the replicator applies each table's
-- changes independently, so a replica may see an order before its customer.

-- Keyless on purpose: exercises the whole-row identity path (REPLICA IDENTITY FULL style).
CREATE TABLE IF NOT EXISTS demo.events (
    kind    text        NOT NULL,
    payload jsonb,
    at      timestamptz NOT NULL DEFAULT now()
);

-- Demo schema, loaded by the postgres image's /docker-entrypoint-initdb.d on the source's
-- first start (and by `make demo` into its source). Replicas start empty: the replicator
-- creates these tables from the source's definitions (docs/schema.md).
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

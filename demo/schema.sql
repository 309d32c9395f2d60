-- The demo schema, created on the source and on each replica.
CREATE SCHEMA IF NOT EXISTS demo;
CREATE TABLE IF NOT EXISTS demo.customers (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS demo.orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- No primary key: duplicates are allowed and replicate as a multiset.
CREATE TABLE IF NOT EXISTS demo.events (
    kind    text NOT NULL,
    payload jsonb,
    at      timestamptz NOT NULL DEFAULT now()
);

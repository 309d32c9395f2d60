-- pgbench script for the demo workload (compose service `workload`, profile demo):
--   pgbench -n -c2 -T 1000000 -R 200 -f /deploy/demo/workload.sql
-- Each statement is its own transaction (no BEGIN) and no statement can fail on
-- a constraint, so the two clients neither deadlock nor abort. Random ids give
-- a mix of inserts, updates, deletes (single- and multi-row), primary-key
-- changes and a keyless table; table sizes stay bounded.
\set cid random(1, 1000)
\set oid random(1, 20000)
\set dice random(1, 100)

-- Customers: insert or update (an upsert fires the INSERT and UPDATE triggers).
INSERT INTO demo.customers (id, name, email, updated_at)
VALUES (:cid, 'customer ' || :cid, 'c' || :cid || '-' || :dice || '@example.com', now())
ON CONFLICT (id) DO UPDATE SET email = excluded.email, updated_at = now();

-- Orders: mostly new rows, some status changes, deletes, multi-row updates.
INSERT INTO demo.orders (id, customer_id, amount, status, created_at)
VALUES (:oid, :cid, round((random() * 500)::numeric, 2), 'new', now())
ON CONFLICT (id) DO NOTHING;
\if :dice <= 30
UPDATE demo.orders SET status = CASE status WHEN 'new' THEN 'paid' ELSE 'shipped' END
WHERE id = :oid;
\elif :dice <= 40
DELETE FROM demo.orders WHERE id = :oid;
\elif :dice <= 45
UPDATE demo.orders SET amount = amount + 1 WHERE id BETWEEN :oid AND :oid + 9;
\elif :dice <= 47
-- Primary-key change (captured as delete of the old key + update). The new
-- key (millisecond clock * 10000 + old id) is unique, so no conflict is possible.
UPDATE demo.customers
SET id = (extract(epoch FROM clock_timestamp()) * 1000)::bigint * 10000 + id
WHERE id = :cid;
\elif :dice <= 49
DELETE FROM demo.customers
WHERE id IN (SELECT id FROM demo.customers WHERE id > 1000 ORDER BY id LIMIT 5);
\endif

-- Events (no primary key): append, occasionally trim the oldest ones.
INSERT INTO demo.events (kind, payload, at)
VALUES ('order', jsonb_build_object('order', :oid, 'customer', :cid, 'dice', :dice), now());
\if :dice <= 5
DELETE FROM demo.events WHERE ctid IN (SELECT ctid FROM demo.events ORDER BY at LIMIT 20);
\endif

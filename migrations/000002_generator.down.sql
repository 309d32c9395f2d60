-- Undoes 000002_generator: drops the generator functions and the shared TRUNCATE capture
-- function it installed. 000003_api.down.sql has untracked every table; if a trigger still
-- uses capture_truncate or capture_key_update, the DROP fails rather than break that table.
BEGIN;
DROP FUNCTION pgfanout.capture_truncate(), pgfanout.notify_rows(bigint[]), pgfanout.notify_sql(text),
    pgfanout.capture_key_update(), pgfanout.size_sql(text, text),
    pgfanout.entries_sql("char", text[], text, text, text),
    pgfanout.capture_block("char", text[], text, text, text, text), pgfanout.capture_body(text),
    pgfanout.install_truncate(), pgfanout.trigger_names(), pgfanout.install_functions(regclass, text[]),
    pgfanout.install_capture(regclass, text[]), pgfanout.drop_triggers(regclass),
    pgfanout.forget_dropped(), pgfanout.drop_functions(oid);
COMMIT;

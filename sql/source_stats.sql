-- The publisher's source-side gauges: changes captured and not yet confirmed by RabbitMQ,
-- and the fraction (0..1) of the server's NOTIFY queue in use (when it is full, notifying
-- commits fail).
SELECT (SELECT changes FROM pgfanout.backlog), pg_notification_queue_usage()

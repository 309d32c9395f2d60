-- Fraction (0..1) of the server's NOTIFY queue in use; when it is full, notifying commits fail.
SELECT pg_notification_queue_usage()

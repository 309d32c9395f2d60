-- While true, capturing transactions send a wake-up NOTIFY; while false they skip it, so
-- that under load no source commit takes PostgreSQL's cluster-wide NOTIFY lock.
UPDATE pgfanout.settings SET publisher_idle = $1

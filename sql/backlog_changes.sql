-- Changes captured and not yet confirmed by RabbitMQ.
SELECT changes FROM pgfanout.backlog

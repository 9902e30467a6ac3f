-- Headers and event time done right: the producer says where a reading comes from in a record
-- header (`source`), and when it was taken in the value (`taken_at`). Windows follow the time
-- the reading was taken, not when it arrived, and a reading that arrives late still counts if
-- it is within the window's grace period.
-- The readings (headers.readings.jsonl) are loaded first, as a producer would write them:
--   brooklet topic-load readings < queries/patterns/headers.readings.jsonl
--   brooklet run queries/patterns/headers-and-event-time.sql

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM readings (
    sensor VARCHAR KEY,
    celsius DOUBLE,
    taken_at VARCHAR,
    source BYTES HEADER('source')
  ) WITH (KAFKA_TOPIC = 'readings', VALUE_FORMAT = 'JSON',
          TIMESTAMP = 'taken_at', TIMESTAMP_FORMAT = 'yyyy-MM-dd''T''HH:mm:ssX');

-- Average per sensor and 5 minutes of event time; readings up to 2 minutes late still count,
-- later ones are dropped (and counted: DESCRIBE readings_5m EXTENDED shows them).
CREATE TABLE readings_5m AS
  SELECT sensor,
         FROM_BYTES(LATEST_BY_OFFSET(source), 'utf8') AS source,
         COUNT(*) AS readings,
         ROUND(AVG(celsius), 2) AS avg_celsius
  FROM readings
  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 2 MINUTES)
  GROUP BY sensor
  EMIT FINAL;

SELECT sensor, source, readings, avg_celsius,
       TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm', 'UTC') AS window_start
  FROM readings_5m EMIT CHANGES LIMIT 3;

-- Windowed aggregations: per-minute counts, hopping averages, and user sessions.
-- Run with: cargo run --release -- run queries/windows.sql
-- A bounded run closes every open window when its input ends, so EMIT FINAL tables hold
-- their last results and the push queries below end with them.

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM clicks (
  user_id VARCHAR KEY,
  page VARCHAR,
  ms INT
) WITH (KAFKA_TOPIC = 'clicks', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- Event time comes from ROWTIME: 2026-01-01T10:00:00Z plus a few minutes.
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767261600000, 'alice', '/home', 120);
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767261610000, 'alice', '/cart', 300);
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767261625000, 'bob', '/home', 80);
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767261650000, 'alice', '/pay', 900);
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767261700000, 'bob', '/help', 40);
INSERT INTO clicks (ROWTIME, user_id, page, ms) VALUES (1767262000000, 'alice', '/home', 60);

-- One row per user and minute, once the minute is over (and its 10 s grace).
CREATE TABLE clicks_per_minute AS
  SELECT user_id,
         TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm', 'UTC') AS minute,
         COUNT(*) AS clicks,
         COLLECT_LIST(page) AS pages
  FROM clicks
  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS)
  GROUP BY user_id
  EMIT FINAL;

-- Sessions: bursts of activity with gaps under two minutes.
CREATE TABLE sessions AS
  SELECT user_id, COUNT(*) AS clicks, (WINDOWEND - WINDOWSTART) / 1000 AS seconds,
         EARLIEST_BY_OFFSET(page) AS entry_page, LATEST_BY_OFFSET(page) AS exit_page
  FROM clicks
  WINDOW SESSION (2 MINUTES)
  GROUP BY user_id
  EMIT FINAL;

PRINT CLICKS_PER_MINUTE FROM BEGINNING;
PRINT SESSIONS FROM BEGINNING;

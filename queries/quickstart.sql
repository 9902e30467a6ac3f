-- Brooklet quickstart: declare a stream, write events, transform them continuously.
-- Run with: cargo run --release -- run queries/quickstart.sql

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM pageviews (
  user_id VARCHAR KEY,
  page VARCHAR,
  duration_ms INT
) WITH (KAFKA_TOPIC = 'pageviews', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

INSERT INTO pageviews (user_id, page, duration_ms) VALUES ('alice', '/home', 1200);
INSERT INTO pageviews (user_id, page, duration_ms) VALUES ('bob', '/cart', 300);
INSERT INTO pageviews (user_id, page, duration_ms) VALUES ('alice', '/checkout', 4500);
INSERT INTO pageviews (user_id, page, duration_ms) VALUES ('carol', '/home', 50);

-- A persistent query: long views, with the page upper-cased and the duration in seconds.
CREATE STREAM long_views AS
  SELECT user_id, UPPER(page) AS page, duration_ms / 1000.0 AS seconds
  FROM pageviews
  WHERE duration_ms >= 1000
  EMIT CHANGES;

-- A push query over the result: it ends once all input is consumed.
SELECT * FROM long_views EMIT CHANGES;

DESCRIBE long_views;
SHOW QUERIES;

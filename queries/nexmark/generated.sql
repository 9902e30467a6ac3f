-- Try Brooklet without data files: the built-in Nexmark generator (the same events as
-- ../shared/bench/gen_nexmark.py for the same seed) feeds a windowed query.
-- Run: brooklet run queries/nexmark/generated.sql
-- In the shell, add 'throttle' = '10000' to generate 10,000 events per second of wall time, and
-- watch the load with SHOW CONNECTORS.

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR nexmark WITH (
  'connector.class' = 'Nexmark', 'bids' = '230000', 'seed' = '42');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

-- The hot auctions of every 10 seconds of event time: each window once, when it closes.
SELECT auction, TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm:ss', 'UTC') AS window_start,
       COUNT(*) AS bids, MAX(price) AS top_price
  FROM bid WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY auction HAVING COUNT(*) > 300
  EMIT FINAL;

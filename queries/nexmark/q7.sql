-- Nexmark q7: tumbling 10 s MAX(price) per window (one group per window)
-- The workload is defined in ../shared/bench/WORKLOADS.md; its input is gen_nexmark.py's output.
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/q7.sql
-- (bench/run.sh runs every workload and checks its result.)

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'bid');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM bid_all AS SELECT 1 AS k, price FROM bid EMIT CHANGES;
CREATE TABLE q7 AS
  SELECT k, WINDOWSTART AS window_start, WINDOWEND AS window_end, MAX(price) AS max_price
  FROM bid_all WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY k EMIT FINAL;

-- Nexmark q5: hopping window (size 10 s, advance 2 s) bid count per auction
-- The workload is defined in ../shared/bench/WORKLOADS.md; its input is gen_nexmark.py's output.
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/q5.sql
-- (bench/run.sh runs every workload and checks its result.)

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'bid');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE TABLE q5 AS
  SELECT auction, WINDOWSTART AS window_start, WINDOWEND AS window_end, COUNT(*) AS num
  FROM bid WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY auction EMIT FINAL;

-- Nexmark q1: projection with arithmetic (currency conversion)
-- The workload is defined in ../shared/bench/WORKLOADS.md; its input is gen_nexmark.py's output.
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/q1.sql
-- (bench/run.sh runs every workload and checks its result.)

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'bid');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM q1 AS SELECT auction, bidder, price * 0.908 AS price, date_time, extra
  FROM bid EMIT CHANGES;

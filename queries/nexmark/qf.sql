-- Function-heavy projection (not one of WORKLOADS.md's): the cost of ksqlDB's scalar functions
-- per bid, vectorized ones (UCASE, CAST) and row-at-a-time ones (MASK, LEN, FORMAT_TIMESTAMP
-- with a Java pattern, REGEXP_EXTRACT).
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/qf.sql

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'bid');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM qf AS SELECT auction,
    UCASE(channel) AS channel,
    LEN(MASK(url)) AS url_len,
    FORMAT_TIMESTAMP(FROM_UNIXTIME(date_time), 'yyyy-MM-dd HH:mm:ss', 'UTC') AS at,
    CAST(price AS DOUBLE) / 100 AS dollars,
    REGEXP_EXTRACT('query=(\d+)', url, 1) AS query
  FROM bid EMIT CHANGES;

-- The Nexmark streams of the crash trials (bench/crash_trials.py), read from gen_nexmark.py's files.
SET 'auto.offset.reset' = 'earliest';
SET 'brooklet.checkpoint.interval.ms' = '200';

CREATE SOURCE CONNECTOR IF NOT EXISTS bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'bid');
CREATE STREAM IF NOT EXISTS bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
                   url VARCHAR, date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

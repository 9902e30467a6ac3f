-- Loads the persons and auctions for the join workloads q3 and q8 (run before q3.sql / q8.sql on
-- the same data directory; bench/run.sh does). Persons are keyed by id for the table in q3.
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/joins-load.sql

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR person_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/person.jsonl', 'topic' = 'person');
CREATE SOURCE CONNECTOR auction_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/auction.jsonl', 'topic' = 'auction');

CREATE STREAM person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR,
                      city VARCHAR, state VARCHAR, date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'person', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

-- The table's key is the record key: persons re-keyed by id.
CREATE STREAM person_keyed AS SELECT * FROM person PARTITION BY id;

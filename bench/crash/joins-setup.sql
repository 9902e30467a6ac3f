-- Crash trial workload "joins", loaded before the trial: the persons keyed by id (a table) and
-- the auctions. The joins then read inputs that are complete, so the uncrashed run they are
-- compared with sees them in the same order.
SET 'auto.offset.reset' = 'earliest';
CREATE SOURCE CONNECTOR person_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/person.jsonl', 'topic' = 'person');
CREATE SOURCE CONNECTOR auction_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/auction.jsonl', 'topic' = 'auction');
CREATE STREAM person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR,
                      city VARCHAR, state VARCHAR, date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'person', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');
CREATE STREAM person_keyed AS SELECT * FROM person PARTITION BY id;

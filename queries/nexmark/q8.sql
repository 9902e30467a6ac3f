-- Nexmark q8 (interval form): each person joined with the auctions they opened within 10
-- seconds of their own event. Run queries/nexmark/joins-load.sql first on the same data
-- directory (it loads persons and auctions).
-- Run: brooklet --fsync never run queries/nexmark/q8.sql

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM IF NOT EXISTS person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR,
                      city VARCHAR, state VARCHAR, date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'person', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM IF NOT EXISTS auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT,
                       reserve BIGINT, date_time BIGINT, expires BIGINT, seller BIGINT,
                       category BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'auction', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM q8 AS
  SELECT P.id, P.name, A.id AS auction_id
  FROM person P JOIN auction A WITHIN 10 SECONDS GRACE PERIOD 1 SECOND ON P.id = A.seller
  EMIT CHANGES;

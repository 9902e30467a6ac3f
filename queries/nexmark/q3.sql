-- Nexmark q3: stream-table join, auctions of category 10 with their seller's name and place,
-- for sellers in Oregon, Idaho or California. Run queries/nexmark/joins-load.sql first on the
-- same data directory (it loads persons and auctions, persons keyed by id).
-- Run: brooklet --fsync never run queries/nexmark/q3.sql
-- (ksqlDB requires the join key in the projection of a persistent query: A.seller.)

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM IF NOT EXISTS auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT,
                       reserve BIGINT, date_time BIGINT, expires BIGINT, seller BIGINT,
                       category BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'auction', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE TABLE person_t (id BIGINT PRIMARY KEY, name VARCHAR, email_address VARCHAR,
                       credit_card VARCHAR, city VARCHAR, state VARCHAR, date_time BIGINT,
                       extra VARCHAR)
  WITH (KAFKA_TOPIC = 'PERSON_KEYED', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE STREAM q3 AS
  SELECT A.seller, P.name, P.city, P.state, A.id AS auction_id
  FROM auction A JOIN person_t P ON A.seller = P.id
  WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')
  EMIT CHANGES;

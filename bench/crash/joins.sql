-- Crash trial workload: a stream-table join (Nexmark q3), a stream-stream join (q8), a left
-- stream-stream join with a grace period, and an aggregation over a join. Its inputs are loaded
-- before the trial by queries/nexmark/joins-load.sql, so the joins read complete inputs and
-- the uncrashed run they are compared with sees them in the same order.
SET 'auto.offset.reset' = 'earliest';
SET 'brooklet.checkpoint.interval.ms' = '200';
CREATE STREAM IF NOT EXISTS auction (id BIGINT, item_name VARCHAR, description VARCHAR,
                       initial_bid BIGINT, reserve BIGINT, date_time BIGINT, expires BIGINT,
                       seller BIGINT, category BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'auction', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');
CREATE TABLE IF NOT EXISTS person_t (id BIGINT PRIMARY KEY, name VARCHAR, email_address VARCHAR,
                       credit_card VARCHAR, city VARCHAR, state VARCHAR, date_time BIGINT,
                       extra VARCHAR)
  WITH (KAFKA_TOPIC = 'PERSON_KEYED', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');
CREATE STREAM IF NOT EXISTS q3 AS
  SELECT A.seller, P.name, P.city, P.state, A.id AS auction_id
  FROM auction A JOIN person_t P ON A.seller = P.id
  WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA');
CREATE STREAM IF NOT EXISTS q8 AS
  SELECT P.id, P.name, A.id AS auction_id
  FROM person P JOIN auction A WITHIN 10 SECONDS GRACE PERIOD 1 SECOND ON P.id = A.seller;
CREATE STREAM IF NOT EXISTS sellers AS
  SELECT A.seller, A.id AS auction_id, P.name
  FROM auction A LEFT JOIN person P WITHIN 2 SECONDS GRACE PERIOD 1 SECOND ON A.seller = P.id;
CREATE TABLE IF NOT EXISTS per_seller AS
  SELECT A.seller, COUNT(*) AS auctions FROM auction A JOIN person_t P ON A.seller = P.id
  GROUP BY A.seller;

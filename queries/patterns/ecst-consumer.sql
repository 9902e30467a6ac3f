-- Event-carried state transfer, service B: keeps its own table of customers from service A's
-- change events, and answers questions about customers without calling service A (which may
-- be down: nothing here reads its data directory).
-- Run after ecst-producer.sql, from the same directory:
--   brooklet --data-dir service-b run queries/patterns/ecst-consumer.sql

SET 'auto.offset.reset' = 'earliest';

-- Service A's events, as they arrive (from ./customer-changes.jsonl).
CREATE SOURCE CONNECTOR customer_changes_in WITH (
  'connector.class' = 'FileStreamSource', 'file' = 'customer-changes.jsonl',
  'topic' = 'customer_changes');
CREATE STREAM customer_changes (id VARCHAR, name VARCHAR, email VARCHAR, tier VARCHAR)
  WITH (KAFKA_TOPIC = 'customer_changes', VALUE_FORMAT = 'JSON');

-- The local copy: the latest state of each customer.
CREATE TABLE customers AS
  SELECT id,
         LATEST_BY_OFFSET(name) AS name,
         LATEST_BY_OFFSET(email) AS email,
         LATEST_BY_OFFSET(tier) AS tier
  FROM customer_changes
  GROUP BY id;

SELECT * FROM customers WHERE id = 'c-1';
SELECT * FROM customers ORDER BY id;

-- Event-carried state transfer, service A: every change to a customer is published with the
-- customer's whole state, so other services can keep their own copy (see ecst-consumer.sql).
-- Here the events travel through a file (a FileStreamSink connector), as they would through a
-- Kafka topic between two clusters.
-- Run from an empty directory, with a data directory per service:
--   brooklet --data-dir service-a run queries/patterns/ecst-producer.sql
--   brooklet --data-dir service-b run queries/patterns/ecst-consumer.sql

SET 'auto.offset.reset' = 'earliest';

-- Full-state change events: each carries the customer as it is after the change.
CREATE STREAM customer_changes (id VARCHAR, name VARCHAR, email VARCHAR, tier VARCHAR)
  WITH (KAFKA_TOPIC = 'customer_changes', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

INSERT INTO customer_changes (id, name, email, tier) VALUES ('c-1', 'Ana', 'ana@example.com', 'basic');
INSERT INTO customer_changes (id, name, email, tier) VALUES ('c-2', 'Ben', 'ben@example.com', 'basic');
INSERT INTO customer_changes (id, name, email, tier) VALUES ('c-1', 'Ana', 'ana@example.org', 'gold');

-- Publish them (to ./customer-changes.jsonl, one JSON value per line).
CREATE SINK CONNECTOR customer_changes_out WITH (
  'connector.class' = 'FileStreamSink', 'file' = 'customer-changes.jsonl',
  'topics' = 'customer_changes');

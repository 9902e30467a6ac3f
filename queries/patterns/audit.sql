-- Event-ID audits: every event carries an id, and each producer numbers its events 1, 2, 3...
-- These queries report duplicates (an id seen twice) and gaps (sequence numbers missing) per
-- producer and hour, and write a deduplicated stream with DEDUPLICATE BY, Brooklet's clause
-- for "keep the first event per id within a time bound" (see the README).
-- Run with: brooklet run queries/patterns/audit.sql

SET 'auto.offset.reset' = 'earliest';

CREATE STREAM payments (event_id VARCHAR, producer VARCHAR, seq INT, amount DECIMAL(10, 2))
  WITH (KAFKA_TOPIC = 'payments', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- 10:00 to 10:30 UTC on 2026-01-01. Producer p1 retries event e2 (a duplicate) and loses seq 4;
-- producer p2 sends 1, 2, 3 in order.
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261600000, 'e1', 'p1', 1, 10.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261660000, 'e2', 'p1', 2, 20.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261665000, 'e2', 'p1', 2, 20.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261720000, 'e3', 'p1', 3, 5.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261900000, 'e5', 'p1', 5, 7.50);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261610000, 'f1', 'p2', 1, 1.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767261800000, 'f2', 'p2', 2, 2.00);
INSERT INTO payments (ROWTIME, event_id, producer, seq, amount) VALUES (1767263400000, 'f3', 'p2', 3, 3.00);

-- Duplicates: per producer and hour, the ids seen more than once (a key of two columns needs
-- a key format that holds two: JSON).
CREATE TABLE duplicate_ids WITH (KEY_FORMAT = 'JSON') AS
  SELECT producer, event_id, COUNT(*) AS copies
  FROM payments
  WINDOW TUMBLING (SIZE 1 HOUR)
  GROUP BY producer, event_id
  HAVING COUNT(*) > 1;

-- Gaps: per producer and hour, how many sequence numbers are missing between the first and
-- the last one seen.
CREATE TABLE sequence_gaps AS
  SELECT producer,
         MIN(seq) AS first_seq,
         MAX(seq) AS last_seq,
         MAX(seq) - MIN(seq) + 1 - COUNT_DISTINCT(seq) AS missing
  FROM payments
  WINDOW TUMBLING (SIZE 1 HOUR)
  GROUP BY producer;

-- The deduplicated stream: the first copy of each id within an hour of event time.
CREATE STREAM unique_payments AS
  SELECT * FROM payments
  DEDUPLICATE BY event_id WITHIN 1 HOUR;

SELECT producer, event_id, copies FROM duplicate_ids;
SELECT producer, first_seq, last_seq, missing FROM sequence_gaps ORDER BY producer;
SELECT event_id, producer, seq, amount FROM unique_payments EMIT CHANGES LIMIT 7;

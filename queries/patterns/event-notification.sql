-- Event notification: a thin event says only that something happened (`order_placed` with the
-- order's id); consumers react to it, and one that needs more enriches it with a query instead
-- of calling the service that placed the order.
-- Run with: brooklet run queries/patterns/event-notification.sql

SET 'auto.offset.reset' = 'earliest';

-- The notification: just the id, keyed by it.
CREATE STREAM order_placed (order_id VARCHAR KEY)
  WITH (KAFKA_TOPIC = 'order_placed', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- The orders service's own state, published as a table (latest row per order).
CREATE TABLE orders (order_id VARCHAR PRIMARY KEY, customer VARCHAR, total DECIMAL(10, 2), items INT)
  WITH (KAFKA_TOPIC = 'orders', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

INSERT INTO orders (ROWTIME, order_id, customer, total, items) VALUES (1767261600000, 'o-1', 'alice', 40.00, 2);
INSERT INTO orders (ROWTIME, order_id, customer, total, items) VALUES (1767261610000, 'o-2', 'bob', 9.99, 1);
INSERT INTO order_placed (ROWTIME, order_id) VALUES (1767261601000, 'o-1');
INSERT INTO order_placed (ROWTIME, order_id) VALUES (1767261611000, 'o-2');
-- A notification for an order the table does not hold (yet): no enriched event for it.
INSERT INTO order_placed (ROWTIME, order_id) VALUES (1767261620000, 'o-3');

-- A consumer that only needs to know: a count of orders placed per minute.
CREATE TABLE orders_per_minute AS
  SELECT 'all' AS scope, COUNT(*) AS placed
  FROM order_placed
  WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY 'all';

-- A consumer that needs the order: the notification enriched from the table, as it happens.
CREATE STREAM orders_to_ship AS
  SELECT p.order_id AS order_id, o.customer AS customer, o.total AS total, o.items AS items
  FROM order_placed p
  JOIN orders o ON p.order_id = o.order_id;

SELECT * FROM orders_to_ship EMIT CHANGES LIMIT 2;
SELECT scope, placed, TIMESTAMPTOSTRING(WINDOWSTART, 'HH:mm', 'UTC') AS minute FROM orders_per_minute;

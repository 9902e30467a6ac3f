-- CQRS: commands go in one write stream; each question is answered by a read model of its
-- own, a table kept up to date from the commands and read with pull queries.
-- Run with: brooklet run queries/patterns/cqrs.sql
-- On a server, clients write commands through /inserts-stream (see the README's CQRS section).

SET 'auto.offset.reset' = 'earliest';

-- The write side: cart commands, keyed by cart.
CREATE STREAM cart_commands (cart_id VARCHAR KEY, command VARCHAR, sku VARCHAR, qty INT, price DECIMAL(8, 2))
  WITH (KAFKA_TOPIC = 'cart_commands', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- Read model 1: what each cart holds and costs.
CREATE TABLE cart_totals AS
  SELECT cart_id,
         SUM(CASE WHEN command = 'remove' THEN -qty ELSE qty END) AS items,
         SUM(CASE WHEN command = 'remove' THEN -qty * price ELSE qty * price END) AS total
  FROM cart_commands
  GROUP BY cart_id;

-- Read model 2, from the same commands: how many of each product sit in carts.
CREATE TABLE sku_demand AS
  SELECT sku, SUM(CASE WHEN command = 'remove' THEN -qty ELSE qty END) AS in_carts
  FROM cart_commands
  GROUP BY sku;

-- The commands (a client would POST them to /inserts-stream).
INSERT INTO cart_commands (cart_id, command, sku, qty, price) VALUES ('c-1', 'add', 'tea', 2, 4.50);
INSERT INTO cart_commands (cart_id, command, sku, qty, price) VALUES ('c-1', 'add', 'mug', 1, 12.00);
INSERT INTO cart_commands (cart_id, command, sku, qty, price) VALUES ('c-2', 'add', 'tea', 5, 4.50);
INSERT INTO cart_commands (cart_id, command, sku, qty, price) VALUES ('c-1', 'remove', 'tea', 1, 4.50);

-- The read side: a lookup by key, and a listing.
SELECT * FROM cart_totals WHERE cart_id = 'c-1';
SELECT * FROM sku_demand ORDER BY in_carts DESC;

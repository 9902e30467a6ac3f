-- Event sourcing: the account events are the truth; balances are derived from them, and can be
-- derived again at any time, or as of any time.
-- Run with: brooklet run queries/patterns/event-sourcing.sql

SET 'auto.offset.reset' = 'earliest';

-- Every change to an account is an event, appended and never updated.
CREATE STREAM account_events (account VARCHAR KEY, kind VARCHAR, amount DECIMAL(12, 2))
  WITH (KAFKA_TOPIC = 'account_events', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- 2026-01-01: two accounts opened in the morning, money moved during the day.
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767261600000, 'alice', 'opened', 0);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767261660000, 'alice', 'deposited', 100);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767265200000, 'bob', 'opened', 0);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767268800000, 'bob', 'deposited', 250);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767272400000, 'alice', 'withdrawn', 30);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767283200000, 'bob', 'withdrawn', 75.50);
INSERT INTO account_events (ROWTIME, account, kind, amount) VALUES (1767286800000, 'alice', 'deposited', 12.25);

-- The current state: a table of balances, folded from the events.
CREATE TABLE balances AS
  SELECT account,
         SUM(CASE WHEN kind = 'withdrawn' THEN -amount ELSE amount END) AS balance,
         COUNT(*) AS events
  FROM account_events
  GROUP BY account;

SELECT * FROM balances ORDER BY account;

-- The state is disposable: drop the table (and its topic) and fold the same events again:
-- the same balances come back.
TERMINATE CTAS_BALANCES_0;
DROP TABLE balances DELETE TOPIC;
CREATE TABLE balances AS
  SELECT account,
         SUM(CASE WHEN kind = 'withdrawn' THEN -amount ELSE amount END) AS balance,
         COUNT(*) AS events
  FROM account_events
  GROUP BY account;

SELECT * FROM balances ORDER BY account;

-- State as of a time T (here noon UTC): the same fold over the events up to T.
CREATE TABLE balances_at_noon AS
  SELECT account,
         SUM(CASE WHEN kind = 'withdrawn' THEN -amount ELSE amount END) AS balance
  FROM account_events
  WHERE ROWTIME <= '2026-01-01T12:00:00'
  GROUP BY account;

SELECT * FROM balances_at_noon ORDER BY account;

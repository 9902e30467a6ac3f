-- Pull requests, and the issue and discussion events that mention them, joined into one stream
-- of updates for each pull request's reviewer (event-carried state: every update carries the
-- pull request's current title and reviewer).
-- Run with: cargo run --release -- run queries/reviews.sql

SET 'auto.offset.reset' = 'earliest';

-- The current state of each pull request (a table: the latest row per key).
CREATE TABLE pull_requests (pr INT PRIMARY KEY, title VARCHAR, author VARCHAR, reviewer VARCHAR)
  WITH (KAFKA_TOPIC = 'pull_requests', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- Events that mention a pull request by number.
CREATE STREAM issue_events (issue INT KEY, pr INT, action VARCHAR, title VARCHAR)
  WITH (KAFKA_TOPIC = 'issue_events', PARTITIONS = 1, VALUE_FORMAT = 'JSON');
CREATE STREAM discussion_events (discussion INT KEY, pr INT, author VARCHAR, body VARCHAR)
  WITH (KAFKA_TOPIC = 'discussion_events', PARTITIONS = 1, VALUE_FORMAT = 'JSON');

-- 2026-01-01T10:00:00Z and the minutes after it.
INSERT INTO pull_requests (ROWTIME, pr, title, author, reviewer)
  VALUES (1767261600000, 7, 'Faster joins', 'ana', 'ben');
INSERT INTO pull_requests (ROWTIME, pr, title, author, reviewer)
  VALUES (1767261600000, 8, 'Fix the REPL', 'cai', 'dee');
INSERT INTO issue_events (ROWTIME, issue, pr, action, title)
  VALUES (1767261660000, 41, 7, 'linked', 'Joins are slow');
INSERT INTO discussion_events (ROWTIME, discussion, pr, author, body)
  VALUES (1767261720000, 90, 7, 'eve', 'Benchmarks look good');
INSERT INTO issue_events (ROWTIME, issue, pr, action, title)
  VALUES (1767261780000, 42, 9, 'linked', 'No such pull request');
-- Pull request 8 changes reviewer: later updates go to the new one.
INSERT INTO pull_requests (ROWTIME, pr, title, author, reviewer)
  VALUES (1767261840000, 8, 'Fix the REPL', 'cai', 'fay');
INSERT INTO discussion_events (ROWTIME, discussion, pr, author, body)
  VALUES (1767261900000, 91, 8, 'ben', 'Needs a test');
INSERT INTO issue_events (ROWTIME, issue, pr, action, title)
  VALUES (1767265800000, 43, 7, 'closed', 'Joins are slow');

-- Issue events about a pull request, with what the reviewer needs to know (stream-table join).
CREATE STREAM reviewer_updates AS
  SELECT i.pr AS pr, p.reviewer AS reviewer, p.title AS pr_title, 'issue' AS kind,
         i.action AS what, i.title AS detail
  FROM issue_events i JOIN pull_requests p ON i.pr = p.pr;

-- Discussion comments go into the same stream.
INSERT INTO reviewer_updates
  SELECT d.pr AS pr, p.reviewer AS reviewer, p.title AS pr_title, 'discussion' AS kind,
         CONCAT('comment by ', d.author) AS what, d.body AS detail
  FROM discussion_events d JOIN pull_requests p ON d.pr = p.pr;

-- Comments within an hour after an issue event on the same pull request (stream-stream join).
CREATE STREAM follow_ups AS
  SELECT i.pr AS pr, i.title AS issue, d.author AS commenter, d.body AS comment
  FROM issue_events i JOIN discussion_events d WITHIN (0 SECONDS, 1 HOUR) ON i.pr = d.pr;

SELECT * FROM reviewer_updates EMIT CHANGES LIMIT 4;
SELECT * FROM follow_ups EMIT CHANGES LIMIT 1;

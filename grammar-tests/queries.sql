-- ok CreateStreamAsSelect
CREATE STREAM OUTPUT AS SELECT * FROM INPUT WHERE id < 10;

-- ok CreateStreamAsSelect
CREATE STREAM enriched WITH (kafka_topic='enriched', partitions=3, value_format='DELIMITED', timestamp='viewtime') AS SELECT * FROM pageviews;

-- ok CreateTableAsSelect
CREATE TABLE S2 as SELECT ID, max(value) FROM test WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 15 SECONDS) group by id;

-- ok CreateTableAsSelect
CREATE TABLE OUTPUT AS SELECT ID, COUNT(*) as COUNT FROM INPUT WINDOW TUMBLING (SIZE 2 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) GROUP BY ID EMIT FINAL;

-- ok CreateTableAsSelect
CREATE TABLE sess AS SELECT ID, COUNT(*) FROM INPUT WINDOW SESSION (30 SECONDS, RETENTION 7 DAYS, GRACE PERIOD 1 MINUTE) GROUP BY ID;

-- ok CreateTableAsSelect
CREATE TABLE OUTPUT AS SELECT ID, EARLIEST_BY_OFFSET(F0) AS L0 FROM INPUT WINDOW nWINDOW SESSION (1 SECONDS) GROUP BY ID;

-- ok CreateStreamAsSelect
CREATE STREAM INNER_JOIN as SELECT t.id, name, value, f1, f2 FROM test t join TEST_STREAM tt WITHIN (11 seconds, 10 seconds) on t.id = tt.id;

-- ok CreateStreamAsSelect
CREATE STREAM INNER_JOIN as SELECT t.id, l1, l2 FROM LEFT_STREAM t join RIGHT_STREAM tt WITHIN 1 minute GRACE PERIOD 1 minute on t.id = tt.id;

-- ok CreateStreamAsSelect
CREATE STREAM foobar AS SELECT * FROM TEST1 FULL OUTER JOIN TEST2 WITHIN 10 SECONDS ON TEST1.col1 = TEST2.col1;

-- ok CreateTableAsSelect
CREATE TABLE out AS SELECT * FROM L RIGHT JOIN R ON L.id = R.id;

-- ok CreateTableAsSelect
CREATE TABLE output AS SELECT l_id, r_id, name, f1 FROM left_table JOIN right_table ON foreign_key = r_id;

-- ok CreateStreamAsSelect
CREATE STREAM out AS SELECT * FROM s1 JOIN s2 WITHIN 10 SECONDS ON s1.id = s2.id LEFT JOIN t3 ON s1.id = t3.id;

-- ok CreateTableAsSelect
CREATE TABLE OUTPUT AS SELECT f1, f2, f3, COUNT(*) FROM TEST GROUP BY (f3, f2, f1);

-- ok CreateTableAsSelect
CREATE TABLE T1 AS SELECT id, SUM(value) AS total FROM test WINDOW TUMBLING (SIZE 30 SECONDS) GROUP BY id HAVING SUM(value) > 100;

-- ok CreateStreamAsSelect
CREATE STREAM OUTPUT WITH(key_format='NONE') AS SELECT * FROM INPUT PARTITION BY null;

-- ok CreateStreamAsSelect
CREATE STREAM OUTPUT AS SELECT * FROM INPUT PARTITION BY name, age;

-- ok InsertInto
INSERT INTO test0 SELECT col0, col2, col3 FROM test1 WHERE col0 > 100;

-- ok InsertValues
INSERT INTO TEST (ROWTIME, K, ID) VALUES (1234, 'key', 10);

-- ok InsertValues
INSERT INTO source1 VALUES ('abc', null, 44);

-- ok InsertValues
INSERT INTO "input" (id, val) VALUES (1, 'hello');

-- ok Query
SELECT K FROM INPUT EMIT CHANGES LIMIT 2;

-- ok PullQuery
SELECT * FROM TOP_TEN_RANKS WHERE ID = 5;

-- ok PullQuery
SELECT * FROM AGG WHERE ID = '10' AND WINDOWSTART >= 1000 AND WINDOWEND < 5000;

-- ok PullQuery
SELECT * FROM AGG LIMIT 3;

-- ok CreateStreamAsSelect
CREATE STREAM unique_payments AS SELECT * FROM payments DEDUPLICATE BY event_id WITHIN 1 HOUR EMIT CHANGES;

-- ok Query
SELECT producer, seq FROM payments p WHERE amount > 0 DEDUPLICATE BY producer, seq WITHIN 10 MINUTES PARTITION BY producer EMIT CHANGES;

-- ok Query
SELECT * FROM deduplicate EMIT CHANGES;

-- error parse 1:55 "Expecting a number"
SELECT * FROM payments DEDUPLICATE BY event_id WITHIN EMIT CHANGES;

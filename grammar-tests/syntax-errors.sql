-- error parse 1:21
SELECT ONLY, COLUMNS;

-- error parse 1:12
SELECT A B C FROM address;

-- error parse 1:35 "reserved keyword"
CREATE STREAM ORDERS (c1 VARCHAR, size INTEGER) WITH (kafka_topic='ords', value_format='json');

-- error parse 1:22
SELECT * FROM address, itemid;

-- error parse 1:10
SELECT * FORM TEST_TOPIC;

-- error parse 1:14 "Syntax error at or near 'AS'"
CREATE TABLE AS SELECT x, count(*) FROM TEST_TOPIC GROUP BY x;

-- error parse 1:1 "Did you mean 'SHOW'?"
sho streams;

-- error parse 1:1 "Unknown statement 'RUN'"
RUN SCRIPT 'foo';

-- error parse 1:8 "Syntax error at or near 'VALUES'"
ASSERT VALUES foo (id INT) VALUES (123);

-- error parse 1:21 "please use 'PRIMARY KEY' for tables"
CREATE TABLE INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input',value_format='JSON');

-- error parse 1:22 "please use 'KEY' for streams"
CREATE STREAM INPUT (ID INT PRIMARY KEY, NAME STRING) WITH (kafka_topic='input',value_format='JSON');

-- error parse 1:59
CREATE STREAM OUTPUT AS SELECT * FROM INPUT WHERE ID IN ( );

-- error parse 1:64 "Syntax error at or near 'AND'"
CREATE TABLE OUTPUT AS SELECT COUNT(*) FROM TEST GROUP BY DATA AND ID;

-- error parse 2:10
SELECT a
FROM s t x EMIT CHANGES;

-- todo error parse 1:19 "Syntax Error"
SELECT * FROM artist WHERE first_name = 'Vincent' and (last_name = 'Monet' or last_name = 'Da Vinci';

-- todo error parse 1:45 "Syntax error at or near 'NULL'"
CREATE STREAM OUTPUT AS SELECT ID, cast(f0 as NULL) FROM TEST;

-- todo error parse 1:40
CREATE STREAM OUTPUT AS SELECT * FROM EXPLODE(MY_ARR);

-- error parse 1:39 "Invalid numeric literal: 9223372036854775808"
CREATE STREAM OUTPUT AS select K, id, 9223372036854775808 FROM INPUT;

-- error parse 1:39 "Invalid numeric literal: -9223372036854775809"
CREATE STREAM OUTPUT AS select K, id, -9223372036854775809 FROM INPUT;

-- error parse 1:23 "Invalid numeric literal: 99999999999999999999"
SELECT * FROM S WHERE 99999999999999999999 > ID EMIT CHANGES;

-- error parse 1:39 "Number overflows DOUBLE: 1.7976931348623159E308"
CREATE STREAM OUTPUT AS select K, id, 1.7976931348623159E308 FROM INPUT;

-- error parse 1:39 "Number overflows DOUBLE: -1E400"
CREATE STREAM OUTPUT AS select K, id, -1E400 FROM INPUT;

-- error parse 1:35 "Invalid DECIMAL(77, 0)"
CREATE STREAM wide (id INT KEY, d DECIMAL(77, 0)) WITH (kafka_topic='wide', value_format='JSON');

-- error parse 1:35 "Invalid DECIMAL(2, 3)"
CREATE STREAM wide (id INT KEY, d DECIMAL(2, 3)) WITH (kafka_topic='wide', value_format='JSON');

-- error parse 1:19 "Syntax error at or near 'NULL'"
SELECT CAST(f0 AS NULL) FROM test;

-- error parse 2:6 "Syntax error at or near 'NULL'"
SELECT ARRAY[CAST(1 AS INT), CAST(f0
  AS NULL)] FROM test;

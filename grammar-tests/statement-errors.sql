-- setup
CREATE STREAM INPUT (K STRING KEY, ID INT, X INT) WITH (kafka_topic='input', partitions=1, value_format='JSON');

-- error statement "No columns supplied."
CREATE STREAM I2 WITH (kafka_topic='input', value_format='DELIMITED');

-- error statement "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties"
CREATE STREAM TEST (K STRING KEY, V INT) WITH (kafka_topic='input', key_format='KAFKA', format='KAFKA');

-- error statement "Delimiter must be a single character"
CREATE STREAM TEST (V INT) WITH (kafka_topic='input', value_format='DELIMITED', value_delimiter='<~>');

-- error statement "Statement is missing the 'VALUE_FORMAT' property from the WITH clause"
CREATE STREAM TEST (foo VARCHAR) WITH (kafka_topic='input');

-- error statement "Unknown format: FOO"
CREATE STREAM TEST (foo VARCHAR) WITH (kafka_topic='input', value_format='FOO');

-- error statement "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
CREATE STREAM TEST (K STRING KEY, f0 STRING, f1 STRING) WITH (WRAP_SINGLE_VALUE=true, kafka_topic='input', value_format='JSON');

-- error statement "`ROWTIME` is a reserved column name. You cannot use it as an alias for a column."
CREATE STREAM OUTPUT AS SELECT K, x AS rowtime FROM INPUT;

-- error statement "Tables require a PRIMARY KEY. Please define the PRIMARY KEY."
CREATE TABLE T (V INT) WITH (kafka_topic='input', value_format='JSON');

-- error statement "Invalid config variable(s) in the WITH clause: FOO"
CREATE STREAM T2 (V INT) WITH (kafka_topic='input', value_format='JSON', foo='x');

-- error statement "Topic 'missing' does not exist"
CREATE STREAM T3 (V INT) WITH (kafka_topic='missing', value_format='JSON');

-- error statement "INPUT2 does not exist"
CREATE STREAM O AS SELECT * FROM INPUT2;

-- error statement "Column 'NOPE' cannot be resolved."
CREATE STREAM O AS SELECT K, NOPE FROM INPUT;

-- error statement "Key missing from projection"
CREATE STREAM O AS SELECT ID FROM INPUT;

-- error statement "Source `UNKNOWN` does not exist."
INSERT INTO UNKNOWN SELECT * FROM INPUT;

-- error statement "Cannot add stream 'INPUT': A stream with the same name already exists"
CREATE STREAM INPUT (V INT) WITH (kafka_topic='input', value_format='JSON');

-- error statement "EMIT FINAL is only supported for windowed aggregations."
CREATE TABLE OUTPUT AS SELECT ID, COUNT(*) FROM INPUT GROUP BY ID EMIT FINAL;

-- setup
CREATE STREAM ARRS (K STRING KEY, B ARRAY<INT>, C ARRAY<INT>) WITH (kafka_topic='arrs', partitions=1, value_format='JSON');

-- error statement "Cannot compare"
CREATE STREAM O2 AS SELECT K, B < C AS LT FROM ARRS;

-- error statement "Query with id:CSAS_NOPE_0 does not exist"
EXPLAIN CSAS_NOPE_0;

-- error statement "NOPE does not exist."
EXPLAIN SELECT * FROM nope EMIT CHANGES;

-- error statement "Invalid result type. Your SELECT query produces a TABLE."
EXPLAIN CREATE STREAM counts AS SELECT k, COUNT(*) FROM input GROUP BY k;

-- error statement "DEDUPLICATE BY applies to a query over one stream without JOIN, WINDOW or GROUP BY"
CREATE TABLE counts AS SELECT k, COUNT(*) FROM input DEDUPLICATE BY id WITHIN 1 HOUR GROUP BY k;

-- setup
CREATE TABLE INPUT_TABLE (K STRING PRIMARY KEY, ID INT) WITH (kafka_topic='input_table', partitions=1, value_format='JSON');

-- error statement "DEDUPLICATE BY applies to streams: INPUT_TABLE is a table"
CREATE TABLE t2 AS SELECT * FROM input_table DEDUPLICATE BY id WITHIN 1 HOUR;

-- error statement "Pull queries don't support DEDUPLICATE BY clauses."
SELECT * FROM input DEDUPLICATE BY id WITHIN 1 HOUR;

-- error statement "DEDUPLICATE BY needs a positive WITHIN bound."
SELECT * FROM input DEDUPLICATE BY id WITHIN 0 SECONDS EMIT CHANGES;

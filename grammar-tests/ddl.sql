-- ok CreateStream
CREATE STREAM pageviews (viewtime BIGINT, userid VARCHAR KEY, pageid VARCHAR) WITH (kafka_topic='pageviews', value_format='JSON');

-- ok CreateTable
CREATE TABLE users (userid VARCHAR PRIMARY KEY, regionid VARCHAR, gender VARCHAR) WITH (kafka_topic='users', value_format='JSON', partitions=2);

-- ok CreateStream
CREATE STREAM IF NOT EXISTS s1 (id INT KEY, v DOUBLE) WITH (kafka_topic='s1', key_format='KAFKA', value_format='DELIMITED', value_delimiter='|');

-- ok CreateTable
CREATE SOURCE TABLE foozball (id VARCHAR PRIMARY KEY) WITH (kafka_topic='foozball', value_format='JSON');

-- ok CreateStream
CREATE STREAM INPUT (K1 STRING KEY, K2 STRING KEY, V INT, V2 INT) WITH (kafka_topic='input_topic', format='DELIMITED', key_delimiter=';', value_delimiter='-');

-- ok CreateStream
CREATE STREAM TEST (K STRING KEY, ID bigint, TS varchar) WITH (kafka_topic='test_topic', value_format='JSON', timestamp='ts', timestamp_format='yy-MM-dd HH:mm:ssX');

-- ok CreateStream
CREATE STREAM SOURCE1 (K STRING KEY, V BIGINT, H1 BYTES HEADER('abc'), H2 BYTES HEADER('def')) WITH (kafka_topic='stream-source', value_format='json');

-- ok CreateStream
CREATE STREAM SOURCE1 (K STRING KEY, H ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, V BIGINT) WITH (kafka_topic='stream-source', value_format='json');

-- ok CreateTable
CREATE TABLE W (K STRING PRIMARY KEY, ID BIGINT) WITH (kafka_topic='w', value_format='JSON', window_type='Hopping', window_size='30 seconds');

-- ok CreateStream
CREATE STREAM S1 (ID INT, FOO INT) WITH (kafka_topic='s1', key_format='NONE', value_format='JSON');

-- ok CreateStream
CREATE STREAM orders (id INT KEY, items ARRAY<STRUCT<name STRING, qty INT>>, tags MAP<STRING, DOUBLE>, price DECIMAL(10, 2), d DATE, t TIME, ts TIMESTAMP, raw BYTES) WITH (kafka_topic='orders', value_format='JSON');

-- ok CreateStream
CREATE STREAM nested (a ARRAY<ARRAY<INT>>, m MAP<STRING, ARRAY<MAP<STRING, INT>>>) WITH (kafka_topic='n', value_format='JSON');

-- ok CreateStreamAsSelect
CREATE OR REPLACE STREAM b AS SELECT * FROM a WHERE col1 > 0;

-- ok DropStream
DROP STREAM IF EXISTS pageviews DELETE TOPIC;

-- ok DropTable
DROP TABLE users;

-- todo ok RegisterType
CREATE TYPE ADDRESS AS STRUCT<number INTEGER, street VARCHAR, city VARCHAR>;

-- todo ok CreateStream
CREATE STREAM orders (id INT KEY, addr ADDRESS) WITH (kafka_topic='orders', value_format='JSON');

-- todo ok DropType
DROP TYPE IF EXISTS ADDRESS;

-- todo ok AlterSource
ALTER STREAM pageviews ADD COLUMN referrer STRING, ADD browser STRING;

-- ok CreateStream
CREATE STREAM wide (id INT KEY, d DECIMAL(76, 30), e DECIMAL(39, 0)) WITH (kafka_topic='wide', value_format='JSON');

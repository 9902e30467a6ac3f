-- ok Show
SHOW STREAMS;

-- ok Show
LIST TABLES EXTENDED;

-- ok Show
SHOW ALL TOPICS EXTENDED;

-- ok Show
SHOW QUERIES EXTENDED;

-- ok Show
SHOW FUNCTIONS;

-- ok Show
SHOW PROPERTIES;

-- ok Describe
DESCRIBE pageviews EXTENDED;

-- ok TerminateQuery
TERMINATE `CSAS-foo_2`;

-- ok TerminateQuery
TERMINATE ALL;

-- ok PrintTopic
PRINT 'topic_name_in_lower_case' FROM BEGINNING INTERVAL 2 LIMIT 10;

-- ok SetProperty
SET 'auto.offset.reset'='earliest';

-- ok UnsetProperty
UNSET 'auto.offset.reset';

-- ok Show
SHOW -- inline comment
STREAMS;

-- ok Show
SHOW /* inline */ STREAMS;

-- todo ok Show
SHOW TYPES;

-- ok Show
SHOW VARIABLES;

-- todo ok DescribeStreams
DESCRIBE STREAMS;

-- ok DescribeFunction
DESCRIBE FUNCTION SUBSTRING;

-- ok Explain
EXPLAIN CSAS_OUTPUT_0;

-- ok Explain
EXPLAIN SELECT id, COUNT(*) FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id EMIT CHANGES;

-- ok Explain
EXPLAIN CREATE STREAM big AS SELECT * FROM pageviews WHERE viewtime > 10 PARTITION BY userid;

-- ok Explain
EXPLAIN INSERT INTO big SELECT * FROM pageviews;

-- error parse 1:9 "Expecting a query id or a query"
EXPLAIN ;

-- ok DefineVariable
DEFINE topicName = 'pageviews';

-- todo ok AssertTopic
ASSERT TOPIC foo WITH (partitions=3) TIMEOUT 3 SECONDS;

-- todo ok PauseQuery
PAUSE ALL;


-- ok UndefineVariable
UNDEFINE data_dir;

-- ok CreateConnector
CREATE SOURCE CONNECTOR IF NOT EXISTS bids WITH ('connector.class' = 'FileStreamSource', 'file' = '/data/bid.jsonl', 'topic' = 'bid');

-- ok CreateConnector
CREATE SINK CONNECTOR out WITH ('connector.class' = 'FileStreamSink', 'file' = '/tmp/out.jsonl', 'topics' = 'Q1');

-- ok Show
SHOW SOURCE CONNECTORS;

-- ok DescribeConnector
DESCRIBE CONNECTOR bids;

-- ok DropConnector
DROP CONNECTOR IF EXISTS bids;

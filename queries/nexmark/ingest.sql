-- Ingestion alone (bench/run.sh's "ingest"): the FileStreamSource connector appends every line
-- of the bid file to the topic BID; no query runs. The topic is checked against the file.
-- Run: brooklet --fsync never run --define data_dir=/path/to/nexmark \
--   --property brooklet.connect.file.dirs=/path/to/nexmark queries/nexmark/ingest.sql

CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '${data_dir}/bid.jsonl', 'topic' = 'INGEST');

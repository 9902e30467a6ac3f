-- Nexmark qw over the built-in generator (bench/run.sh's "qwgen"): no input file, so the run can
-- be as long as wanted (bench/run.sh sets bids; 100 M shows that cost grows linearly and memory
-- stays flat). The generator writes the same events as gen_nexmark.py, persons and auctions
-- included, so the result equals qw's over the same number of bids.
-- Run: brooklet --fsync never run --define bids=10000000 queries/nexmark/qw-gen.sql

SET 'auto.offset.reset' = 'earliest';

CREATE SOURCE CONNECTOR nexmark WITH ('connector.class' = 'Nexmark', 'bids' = '${bids}');

CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');

CREATE TABLE qwgen AS
  SELECT auction, WINDOWSTART AS window_start, WINDOWEND AS window_end,
         COUNT(*) AS cnt, MAX(price) AS max_price
  FROM bid WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY auction EMIT FINAL;

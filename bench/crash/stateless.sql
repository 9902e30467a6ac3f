-- Crash trial workload (bench/crash_trials.py runs sources.sql before it): stateless queries (filter, projection, scalar functions, PARTITION BY
-- into more partitions) while the connector loads the input.

CREATE STREAM IF NOT EXISTS cheap AS
  SELECT auction, bidder, price * 908 / 1000 AS price_eur, UCASE(channel) AS channel, date_time
  FROM bid WHERE price % 3 <> 1;
CREATE STREAM IF NOT EXISTS by_bidder WITH (PARTITIONS = 4) AS
  SELECT bidder, auction, price, LEN(url) AS url_len FROM bid PARTITION BY bidder;

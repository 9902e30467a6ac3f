-- Crash trial workload (bench/crash_trials.py runs sources.sql before it): a table aggregation whose input rows change and are deleted (a table
-- filter turns rejected rows into tombstones, retracted from the aggregate).

CREATE TABLE IF NOT EXISTS latest AS
  SELECT auction, LATEST_BY_OFFSET(price) AS price, COUNT(*) AS n FROM bid GROUP BY auction;
CREATE TABLE IF NOT EXISTS open_auctions AS SELECT * FROM latest WHERE n % 5 <> 0;
CREATE TABLE IF NOT EXISTS by_bucket AS
  SELECT price % 10 AS bucket, COUNT(*) AS auctions, SUM(price) AS total
  FROM open_auctions GROUP BY price % 10;

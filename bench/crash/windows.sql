-- Crash trial workload (bench/crash_trials.py runs sources.sql before it): windowed aggregations (tumbling EMIT CHANGES, hopping EMIT FINAL as
-- Nexmark q5, sessions) while the connector loads the input.

CREATE TABLE IF NOT EXISTS tumbling AS
  SELECT auction, COUNT(*) AS num, MAX(price) AS max_price FROM bid
  WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND) GROUP BY auction EMIT CHANGES;
CREATE TABLE IF NOT EXISTS q5 AS
  SELECT auction, WINDOWSTART AS window_start, WINDOWEND AS window_end, COUNT(*) AS num
  FROM bid WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY auction EMIT FINAL;
CREATE TABLE IF NOT EXISTS sessions AS
  SELECT bidder, COUNT(*) AS bids, SUM(price) AS total FROM bid
  WINDOW SESSION (500 MILLISECONDS, GRACE PERIOD 1 SECOND) GROUP BY bidder EMIT CHANGES;

-- Crash trial workload "inserts" (bench/crash_trials.py): a server takes rows through
-- /inserts-stream and INSERT VALUES while these queries run; the server is killed and
-- restarted under the producer. The uncrashed run reads the input the trial ended with.
SET 'auto.offset.reset' = 'earliest';
SET 'brooklet.checkpoint.interval.ms' = '200';
CREATE STREAM IF NOT EXISTS ev (id BIGINT KEY, grp INT, v BIGINT, ts BIGINT)
  WITH (KAFKA_TOPIC = 'ev', PARTITIONS = 1, VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');
CREATE STREAM IF NOT EXISTS ev_odd AS SELECT id, grp, v * 2 AS v2 FROM ev WHERE v % 2 = 1;
CREATE TABLE IF NOT EXISTS ev_windows AS
  SELECT grp, COUNT(*) AS n, SUM(v) AS total FROM ev
  WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 200 MILLISECONDS) GROUP BY grp EMIT CHANGES;
CREATE TABLE IF NOT EXISTS ev_final AS
  SELECT grp, COUNT(*) AS n FROM ev
  WINDOW HOPPING (SIZE 2 SECONDS, ADVANCE BY 1 SECOND) GROUP BY grp EMIT FINAL;
CREATE TABLE IF NOT EXISTS ev_latest AS
  SELECT id, LATEST_BY_OFFSET(grp) AS grp, LATEST_BY_OFFSET(v) AS v, COUNT(*) AS n FROM ev
  GROUP BY id;
CREATE TABLE IF NOT EXISTS ev_by_grp AS
  SELECT grp, COUNT(*) AS ids, SUM(v) AS total FROM ev_latest GROUP BY grp;

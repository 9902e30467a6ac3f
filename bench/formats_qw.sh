#!/usr/bin/env bash
# qw over JSON values next to qw over AVRO, PROTOBUF and JSON_SR values, on the embedded log,
# in one sitting. Loads the bids once (file -> connector -> topic `bid`, JSON) and writes them
# again in each format with a schema (`bid_avro`, `bid_proto`, `bid_jsr`, through the built-in
# schema registry); then, from a copy of that data directory each, runs qw over each topic and
# prints events/s and peak RSS.
# Not part of the test suite. Usage: bench/formats_qw.sh   Environment: BIDS (default 1000000),
# DATA (input directory), CARGO_TARGET_DIR, BIN.
set -euo pipefail
WORK_NAME=brooklet-avro-qw
# shellcheck source=bench/setup.sh
source "$(dirname "$0")/setup.sh"
columns="auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
         date_time BIGINT, extra VARCHAR"
cat > "$work/load.sql" <<SQL
SET 'auto.offset.reset' = 'earliest';
CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '$DATA/bid.jsonl', 'topic' = 'bid');
CREATE STREAM bid ($columns)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');
CREATE STREAM bid_avro WITH (KAFKA_TOPIC = 'bid_avro', VALUE_FORMAT = 'AVRO')
  AS SELECT * FROM bid;
CREATE STREAM bid_proto WITH (KAFKA_TOPIC = 'bid_proto', VALUE_FORMAT = 'PROTOBUF')
  AS SELECT * FROM bid;
CREATE STREAM bid_jsr WITH (KAFKA_TOPIC = 'bid_jsr', VALUE_FORMAT = 'JSON_SR')
  AS SELECT * FROM bid;
SQL
"$BIN" --fsync never --data-dir "$work/loaded" --property "brooklet.connect.file.dirs=$DATA" \
  run "$work/load.sql" > /dev/null
for source in bid bid_avro bid_proto bid_jsr; do
  cp -r "$work/loaded" "$work/$source"
  cat > "$work/$source.sql" <<SQL
SET 'auto.offset.reset' = 'earliest';
CREATE TABLE qw_$source AS
  SELECT auction, WINDOWSTART AS window_start, WINDOWEND AS window_end,
         COUNT(*) AS cnt, MAX(price) AS max_price
  FROM $source WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)
  GROUP BY auction EMIT FINAL;
SQL
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$source.rss" "$BIN" --fsync never --data-dir "$work/$source" \
    --property "brooklet.connect.file.dirs=$DATA" run "$work/$source.sql" > /dev/null
  end=$(date +%s.%N)
  python3 - "$source" "$start" "$end" "$(cat "$work/$source.rss")" "$BIDS" <<'PY'
import sys
source, start, end, rss_kb, bids = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
wall = end - start
print(f"qw over {source:<9} {bids} bids  {wall:6.2f} s  {bids / wall:>10,.0f} events/s  peak RSS {rss_kb / 1024:.0f} MiB")
PY
done

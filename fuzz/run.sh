#!/usr/bin/env bash
# Coverage-guided fuzzing of Brooklet's targets (src/fuzz.rs) with libFuzzer through cargo-fuzz,
# on demand (CI runs the short mutation pass of tests/fuzz.rs instead).
# Usage: fuzz/run.sh [seconds per target] [target...]   (default 300 s; all targets)
# Needs: cargo install cargo-fuzz. The machine's toolchain is stable: RUSTC_BOOTSTRAP lets
# cargo-fuzz pass its flags; no sanitizer (a panic or a failed assertion is the finding).
# Seeds: grammar-tests/ statements, ksqlDB's QTT files, JSON records, a valid segment.
# Findings land in fuzz/artifacts/<target>/; each becomes a case of REGRESSIONS in
# tests/fuzz.rs. Prints executions and findings per target.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER="${1:-300}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(statement decode log_segment qtt http)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${TMPDIR:-/tmp}/brooklet-fuzz-target}"
cargo fuzz build --sanitizer none -O >&2
BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
CORPUS="${FUZZ_CORPUS:-${TMPDIR:-/tmp}/brooklet-fuzz-corpus}"
QTT="${BROOKLET_QTT_DIR:-../../shared/qtt}"

seed() {
  local t=$1 dir="$CORPUS/$1"
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || return 0
  case $t in
    statement)
      python3 - "$dir" ../grammar-tests/*.sql <<'PY'
import sys, hashlib, os
out = sys.argv[1]
for f in sys.argv[2:]:
    for case in open(f).read().split("\n-- "):
        body = case.split("\n", 1)[-1].encode()
        open(os.path.join(out, hashlib.sha1(body).hexdigest()), "wb").write(body)
PY
      ;;
    qtt) cp "$QTT"/a*.json "$dir"/ ;;
    decode)
      printf '\x00{"A": 1, "B": 2, "C": 1.5, "D": "x", "E": true, "F": 12.34, "G": ["a"], "H": {"k": 1}, "I": {"X": 1, "Y": [1.0]}, "J": 1700000000000}' > "$dir/json"
      printf '\x041234{"A": 1}' > "$dir/keyed"
      printf '\x001,2,1.5,x,true,12.34,1700000000000,19000,3600000,AAE=' > "$dir/delimited" ;;
    log_segment)
      local d; d=$(mktemp -d)
      printf "CREATE STREAM s (k INT KEY, v STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');\nINSERT INTO s (k, v) VALUES (1, 'a');\nINSERT INTO s (k, v) VALUES (2, NULL);\n" > "$d/in.sql"
      "${BROOKLET_BIN:-${TMPDIR:-/tmp}/brooklet-target/debug/brooklet}" --data-dir "$d/data" run "$d/in.sql" > /dev/null
      cp "$d/data/topics/s/0/00000000000000000000.log" "$dir/segment"
      rm -rf "$d" ;;
    http)
      printf '\x00{"ksql": "SHOW STREAMS; DESCRIBE s;", "streamsProperties": {}}' > "$dir/ksql"
      printf '\x02{"sql": "SELECT * FROM s EMIT CHANGES LIMIT 1;", "properties": {}}' > "$dir/query"
      printf '\x03{"target": "S"}\n{"K": 1, "V": "x"}\n' > "$dir/inserts" ;;
  esac
}

printf '%-12s %12s %10s %s\n' target executions exec/s findings
for t in "${TARGETS[@]}"; do
  seed "$t"
  mkdir -p "artifacts/$t"
  log=$(mktemp)
  "$BIN/$t" "$CORPUS/$t" -max_total_time="$SECONDS_PER" -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" -rss_limit_mb=4096 -timeout=10 > "$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  found=$(ls "artifacts/$t" | wc -l)
  printf '%-12s %12s %10s %s\n' "$t" "$execs" "$rate" "$found"
  rm -f "$log"
done

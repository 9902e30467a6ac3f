# Sourced by the one-sitting benchmark scripts (dedup.sh, formats_qw.sh): the checkout as the
# working directory, the release binary (BIN, built unless given), the Nexmark input (DATA,
# generated once for BIDS bids, default 1000000) and a work directory `$work`, removed at exit
# (named after WORK_NAME, set before sourcing).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIDS="${BIDS:-1000000}"
DATA="${DATA:-${TMPDIR:-/tmp}/brooklet-nexmark-$BIDS}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/brooklet-target}"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="$CARGO_TARGET_DIR/release/brooklet"
fi
if [ ! -f "$DATA/manifest.json" ]; then
  python3 ../shared/bench/gen_nexmark.py --bids "$BIDS" --out "$DATA" >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/$WORK_NAME-XXXX")
trap 'rm -rf "$work"' EXIT

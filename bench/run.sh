#!/usr/bin/env bash
# Whole-process benchmark: lands N generated events (default 1,000,000, about
# 430 MB) with `eventlake run --compression none` and, in the same run and on
# the same input, measures the I/O floors (cp, dd) and the Python 3 baseline
# (bench/baseline.py). Prints events/s, MB/s and peak RSS for each, and the
# ratios. Each tool runs RUNS times (default 3); the best time is reported.
#
# usage: bench/run.sh [N]        env: RUNS=3 OUT=bench/out SKIP_PYTHON=1
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
go build -o "$OUT/eventlake" ./cmd/eventlake
IN="$OUT/events-$N.jsonl"
[ -s "$IN" ] || "$OUT/eventlake" gen -n "$N" --seed 42 --bad 0.001 --dup 0.001 --to "$IN"
BYTES=$(stat -c %s "$IN")
echo "input: $IN, $N events, $BYTES bytes; $(nproc) cores; best of $RUNS runs"

best() { # name command...: prints "name seconds rss"
  local name=$1; shift
  local bt= br=
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT/dst"; mkdir -p "$OUT/dst"; sync
    read -r t r < <(python3 bench/measure.py "$@" 2>/dev/null)
    if [ -z "$bt" ] || awk "BEGIN{exit !($t < $bt)}"; then bt=$t; br=$r; fi
  done
  echo "$name $bt $br"
}

results=()
results+=("$(best eventlake "$OUT/eventlake" run --from "$IN" --to "$OUT/dst/lake" --compression none --quiet)")
results+=("$(best cp cp "$IN" "$OUT/dst/copy")")
# cp (coreutils 9) copies inside the kernel (copy_file_range): no byte enters
# user space. dd with 1 MiB blocks is the floor for anything that reads the
# bytes into a process and writes them out again, as every transformer must.
results+=("$(best dd-1MiB dd if="$IN" of="$OUT/dst/copy" bs=1M status=none)")
if [ -z "${SKIP_PYTHON:-}" ]; then
  results+=("$(RUNS=1 best python3-baseline python3 bench/baseline.py "$IN" "$OUT/dst/py")")
fi
rm -rf "$OUT/dst"

printf '\n%-18s %9s %12s %9s %10s %10s\n' tool seconds events/s MB/s "peak RSS" "time/ours"
read -r _ ours _ <<<"${results[0]}"
for r in "${results[@]}"; do
  read -r name t rss <<<"$r"
  awk -v n="$name" -v t="$t" -v rss="$rss" -v N="$N" -v B="$BYTES" -v o="$ours" 'BEGIN{
    printf "%-18s %9.3f %12.0f %9.1f %7.0f MB %9.2fx\n", n, t, N/t, B/1e6/t, rss/1024, t/o }'
done

#!/usr/bin/env bash
# Whole-process benchmark of landing. On the same input, in one run, it
# measures eventlake run with --compression none, gzip (the default), zstd
# and --format parquet, beside the I/O floors (cp, dd bs=1M) and the plain
# Python 3 baseline (bench/baseline.py). Each prints wall seconds, events/s,
# CPU seconds (user+system), system seconds, peak RSS and the ratio to our
# `none` time. Each tool runs RUNS times in turn (default 3): the median is
# reported and the spread (min-max) is shown.
#
# Two data sets, because one generator flatters: DATA=gen (default; our
# generator, ~430 B/event) and DATA=harder (bench/variant.py: the same
# events made larger, ~2 kB, mostly non-ASCII). DATA=/path/file.jsonl
# benchmarks your own NDJSON.
#
# BASE=<git revision> also builds that revision and runs its none, gzip,
# zstd and parquet landing in turn with ours (base-none, ...): a before/after
# comparison on one machine in one run, as refactors and speed-ups must show.
#
# usage: bench/run.sh [N]    env: RUNS=3 OUT=bench/out DATA=gen|harder|FILE SKIP_PYTHON=1 ONLY="none gzip" BASE=rev
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
OUT=${OUT:-bench/out}
DATA=${DATA:-gen}
mkdir -p "$OUT"
go build -o "$OUT/eventlake" ./cmd/eventlake
EL="$OUT/eventlake"
case "$DATA" in
gen) IN="$OUT/events-$N.jsonl"
  [ -s "$IN" ] || "$EL" gen -n "$N" --seed 42 --bad 0.001 --dup 0.001 --quiet --to "$IN" ;;
harder) IN="$OUT/harder-$N.jsonl"
  [ -s "$IN" ] || "$EL" gen -n "$N" --seed 42 --bad 0.001 --dup 0.001 --quiet --to - | python3 bench/variant.py > "$IN" ;;
*) IN=$DATA; [ -s "$IN" ] || { echo "bench/run.sh: no data at $IN" >&2; exit 1; } ;;
esac
N=$(wc -l < "$IN")
BYTES=$(stat -c %s "$IN")
NONASCII=$(LC_ALL=C grep -c -P '[\x80-\xff]' "$IN" || true)
echo "input: $IN: $N lines, $BYTES bytes ($((BYTES / N)) B/line, $((100 * NONASCII / N))% with non-ASCII); $(nproc) cores; median of $RUNS runs"

declare -A CMDS
CMDS[none]="$EL run --from $IN --lake $OUT/dst/lake --compression none --quiet"
CMDS[gzip]="$EL run --from $IN --lake $OUT/dst/lake --quiet"
CMDS[zstd]="$EL run --from $IN --lake $OUT/dst/lake --compression zstd --quiet"
CMDS[parquet]="$EL run --from $IN --lake $OUT/dst/lake --format parquet --quiet"
CMDS[cp]="cp $IN $OUT/dst/copy"
# cp (coreutils 9) copies inside the kernel (copy_file_range): no byte enters
# user space. dd with 1 MiB blocks is the floor for anything that reads the
# bytes into a process and writes them out again, as every transformer must.
CMDS[dd]="dd if=$IN of=$OUT/dst/copy bs=1M status=none"
CMDS[python3]="python3 bench/baseline.py $IN $OUT/dst/py"
ORDER=${ONLY:-none gzip zstd parquet cp dd python3}
if [ -n "${BASE:-}" ]; then
  rm -rf "$OUT/base-src"; mkdir -p "$OUT/base-src"
  git archive "$BASE" | tar -x -C "$OUT/base-src"
  (cd "$OUT/base-src" && go build -o ../eventlake-base ./cmd/eventlake)
  for name in none gzip zstd parquet; do
    [[ " $ORDER " == *" $name "* ]] || continue
    CMDS[base-$name]="${CMDS[$name]/#$EL /$OUT/eventlake-base }"
    # --to: the name of --lake before it was renamed (still an alias)
    CMDS[base-$name]="${CMDS[base-$name]/ --lake / --to }"
    ORDER="${ORDER/$name/$name base-$name}"
  done
fi
[ -n "${SKIP_PYTHON:-}" ] && ORDER=${ORDER//python3/}

declare -A RES
for run in $(seq "$RUNS"); do
  for name in $ORDER; do
    [ "$name" = python3 ] && [ "$run" -gt 1 ] && continue # 20-60 s a run: once is enough
    rm -rf "$OUT/dst"; mkdir -p "$OUT/dst"; sync
    # shellcheck disable=SC2086
    if ! m=$(python3 bench/measure.py ${CMDS[$name]} 2>"$OUT/$name.err"); then
      echo "bench/run.sh: $name failed:"; tail -5 "$OUT/$name.err"; exit 1
    fi
    RES[$name]+="$m;"
  done
done
rm -rf "$OUT/dst"

# median and spread per tool
summary() { # name -> "wall min max cpu sys rss"
  echo "${RES[$1]}" | tr ';' '\n' | sed '/^$/d' | sort -n | awk '
    { w[NR]=$1; u[NR]=$2; s[NR]=$3; r[NR]=$4 }
    END { m=int((NR+1)/2); printf "%s %s %s %.3f %.3f %d\n", w[m], w[1], w[NR], u[m]+s[m], s[m], r[m] }'
}
read -r ours _ < <(summary none 2>/dev/null || echo 0)
printf '\n%-12s %8s %15s %11s %7s %7s %9s %9s\n' tool wall_s "(min-max)" events/s cpu_s sys_s "peak RSS" "x none"
[ -n "${BASE:-}" ] && echo "base-*: $(git rev-parse --short "$BASE")"
for name in $ORDER; do
  read -r w lo hi cpu sys rss < <(summary "$name")
  awk -v n="$name" -v w="$w" -v lo="$lo" -v hi="$hi" -v cpu="$cpu" -v sys="$sys" -v rss="$rss" -v N="$N" -v o="${ours:-0}" 'BEGIN{
    printf "%-12s %8.3f %15s %11.0f %7.2f %7.2f %6.0f MB %8.2fx\n", n, w, sprintf("(%.2f-%.2f)", lo, hi), N/w, cpu, sys, rss/1024, (o > 0 ? w/o : 0) }'
done

#!/usr/bin/env bash
# eventlake query over the Iceberg table beside the Parquet lake of the same
# events (issue 12: count(DISTINCT event_uuid) on the compacted table should
# take no longer than on the compacted Parquet lake). One input of N
# generated events (1% bad, 1% repeated) lands
#   table     : run --iceberg (8 MiB batches: ~40 small data files per batch)
#   parquet   : run --format parquet (the default batches)
#   compacted : the parquet lake after compact --format parquet --older-than 0 --grace 0
# and, when TABLE_COMPACT is set, the table after `eventlake $TABLE_COMPACT
# --lake DIR` (e.g. TABLE_COMPACT="compact --iceberg", once table compaction
# exists) as table-compacted; with ONE_BATCH=1, table-onebatch: the events
# landed into a table in a single batch, one data file per partition, the
# shape a compaction of the table gives (a stand-in until it exists; the
# landing holds the whole input in memory, GBs for 1M events).
# Each query runs RUNS times on each lake, the lakes taking turns (the
# machine is shared: a burst of load hits all of them alike); the whole
# eventlake query process is timed (bench/measure.py), DuckDB and, for the
# table, opening the catalog and planning the read included. Printed: the
# median wall time with min-max, then each lake's answers, which must agree
# (the script fails if they do not).
#
# usage: bench/query_table.sh [N]     (default 1000000 events)
# env:   RUNS=5  BENCH_OUT=DIR (keep the lakes there)  TABLE_COMPACT="compact --iceberg"  ONE_BATCH=1
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-5}
OUT=${BENCH_OUT:-$(mktemp -d)}
trap '[ -n "${BENCH_OUT:-}" ] || rm -rf "$OUT"' EXIT
mkdir -p "$OUT"
go build -tags iceberg -o "$OUT/eventlake" ./cmd/eventlake
EL="$OUT/eventlake"

die() { echo "bench/query_table.sh: $*" >&2; exit 1; }
# wall CMD...: the wall seconds of CMD (bench/measure.py); on failure, its
# output and a non-zero exit.
wall() {
  local log="$OUT/measure.log" out
  if ! out=$(python3 bench/measure.py "$@" 2>"$log"); then
    cat "$log" >&2
    die "failed: $*"
  fi
  echo "${out%% *}"
}

$EL gen -n "$N" --seed 42 --bad 0.01 --dup 0.01 --quiet --to "$OUT/events.jsonl"
rm -rf "$OUT/table" "$OUT/parquet" "$OUT/compacted" "$OUT/table-compacted" "$OUT/table-onebatch"
land=$(wall "$EL" run --from "$OUT/events.jsonl" --lake "$OUT/table" --iceberg --quiet)
echo "landed into the table in ${land}s"
land=$(wall "$EL" run --from "$OUT/events.jsonl" --lake "$OUT/parquet" --format parquet --quiet)
echo "landed into the parquet lake in ${land}s"
cp -a "$OUT/parquet" "$OUT/compacted"
c=$(wall "$EL" compact --lake "$OUT/compacted" --format parquet --older-than 0 --grace 0)
echo "compacted the parquet lake in ${c}s"
LAKES=(table parquet compacted)
if [ "${ONE_BATCH:-0}" = 1 ]; then
  land=$(wall "$EL" run --from "$OUT/events.jsonl" --lake "$OUT/table-onebatch" --iceberg --quiet --batch-events $((N * 2)) --batch-bytes $((1 << 40)))
  echo "landed into a table in one batch in ${land}s"
  LAKES+=(table-onebatch)
fi
if [ -n "${TABLE_COMPACT:-}" ]; then
  # A table cannot be copied: its catalog and metadata hold absolute
  # locations, so a copy's commits would write into the original's folder.
  # It is landed again instead.
  "$EL" run --from "$OUT/events.jsonl" --lake "$OUT/table-compacted" --iceberg --quiet >/dev/null
  # shellcheck disable=SC2086 # TABLE_COMPACT is a command and its flags
  c=$(wall "$EL" $TABLE_COMPACT --lake "$OUT/table-compacted")
  echo "compacted the table ($TABLE_COMPACT) in ${c}s"
  LAKES+=(table-compacted)
fi

# iceberg LAKE: the flag that makes query read LAKE's table, if it is one.
iceberg() { case "$1" in table*) echo --iceberg ;; esac; }
# query LAKE ARGS...: eventlake query over LAKE.
# shellcheck disable=SC2046 # $(iceberg) is no word or one
query() { local l=$1; shift; "$EL" query $(iceberg "$l") --lake "$OUT/$l" "$@"; }
shape() { # data files, MB
  local root=$OUT/$1
  case "$1" in table*) root=$OUT/$1/eventlake.db/events/data ;; esac
  find "$root" -path '*event_type=*' -name '*.parquet' -type f -printf '%s\n' |
    awk '{n++; s+=$1} END {printf "%d %.1f", n, s/1e6}'
}

QUERIES=(
  "SELECT 1"
  "SELECT count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids FROM events"
  "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
  "SELECT event_subtype, count(*) FROM events WHERE event_type = 'payment' AND created_date = '2026-11-01' GROUP BY 1 ORDER BY 1"
)
declare -A T
for qi in "${!QUERIES[@]}"; do
  for r in $(seq "$RUNS"); do
    for l in "${LAKES[@]}"; do
      # shellcheck disable=SC2046
      T[$l,$qi]+="$(wall "$EL" query $(iceberg "$l") --lake "$OUT/$l" --format csv "${QUERIES[$qi]}") "
    done
  done
done
median() { python3 -c 'import statistics, sys; v = sorted(map(float, sys.argv[1:])); print("%.3f (%.3f-%.3f)" % (statistics.median(v), v[0], v[-1]))' "$@"; }

echo
echo "== eventlake query over $N generated events ($(wc -l <"$OUT/events.jsonl") lines), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); median (min-max) of $RUNS runs, seconds"
printf '%-16s %7s %8s' lake files MB
for qi in "${!QUERIES[@]}"; do printf ' %22s' "q$qi"; done
echo
for l in "${LAKES[@]}"; do
  read -r n mb <<<"$(shape "$l")"
  printf '%-16s %7s %8s' "$l" "$n" "$mb"
  for qi in "${!QUERIES[@]}"; do
    # shellcheck disable=SC2086 # the list of times
    printf ' %22s' "$(median ${T[$l,$qi]})"
  done
  echo
done
echo
for qi in "${!QUERIES[@]}"; do echo "q$qi: ${QUERIES[$qi]}"; done

# The lakes must give the same answers.
for qi in "${!QUERIES[@]}"; do
  want=$(query parquet --format csv "${QUERIES[$qi]}" 2>/dev/null)
  for l in "${LAKES[@]}"; do
    got=$(query "$l" --format csv "${QUERIES[$qi]}" 2>/dev/null)
    [ "$got" = "$want" ] || die "q$qi: $l answers $(echo "$got" | tr '\n' ' ') but parquet $(echo "$want" | tr '\n' ' ')"
  done
done
echo "every lake gives the same answers; q1 on the table: $(query table --format csv "${QUERIES[1]}" 2>/dev/null | tail -1)"

//go:build iceberg

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/table"
)

// queryCSV runs eventlake query --format csv with args and returns its rows
// (the header first) and the error.
func queryCSV(t *testing.T, args ...string) ([][]string, error) {
	t.Helper()
	out, stderr, err := cli(t, nil, append([]string{"query", "--format", "csv"}, args...)...)
	if err != nil {
		return nil, err
	}
	rows, cerr := csv.NewReader(strings.NewReader(out)).ReadAll()
	if cerr != nil || len(rows) == 0 {
		t.Fatalf("query %v: output is not CSV with a header (%v):\n%s\n%s", args, cerr, out, stderr)
	}
	return rows, nil
}

func mustQuery(t *testing.T, args ...string) [][]string {
	t.Helper()
	rows, err := queryCSV(t, args...)
	if err != nil {
		t.Fatalf("query %v: %v", args, err)
	}
	return rows
}

// landJSON runs eventlake run --json --quiet with args and returns its
// summary.
func landJSON(t *testing.T, args ...string) summary {
	t.Helper()
	out, stderr, err := cli(t, nil, append([]string{"run", "--json", "--quiet"}, args...)...)
	if err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, stderr)
	}
	var s summary
	unmarshal(t, out, &s)
	return s
}

// snapshots are the table's snapshots in commit order, with their commit
// times.
func snapshots(t *testing.T, dir string) (ids []int64, when []time.Time) {
	t.Helper()
	tb, err := table.Open(context.Background(), table.Options{Warehouse: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snaps := tbl.Metadata().Snapshots()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].SequenceNumber < snaps[j].SequenceNumber })
	for _, s := range snaps {
		ids = append(ids, s.SnapshotID)
		when = append(when, time.UnixMilli(s.TimestampMs).UTC())
	}
	return ids, when
}

// TestQueryTable lands three generated inputs, one after the other, into
// the Iceberg table (three snapshots) and into a Hive-style lake, and
// queries both through the CLI: the same SQL gives the same answers
// (counts, distinct uuids, per type, per day and subtype, a partition
// filter), and the total is what the runs wrote. Then time travel: the
// first snapshot, by id or by a time before the second commit, holds the
// first input's events only, as a lake of the first input alone does; a
// wrong id and a time before the first commit are errors that say so.
func TestQueryTable(t *testing.T) {
	dir := t.TempDir()
	tableDir, lakeDir, firstDir := filepath.Join(dir, "table"), filepath.Join(dir, "lake"), filepath.Join(dir, "first")
	var written []int64
	for i, seed := range []string{"21", "22", "23"} {
		in := filepath.Join(dir, "in", "events-"+seed+".jsonl")
		if err := os.MkdirAll(filepath.Dir(in), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cli(t, nil, "gen", "-n", "3000", "--seed", seed, "--bad", "0.02", "--dup", "0.02", "--to", in); err != nil {
			t.Fatal(err)
		}
		s := landJSON(t, "--from", in, "--lake", tableDir, "--iceberg")
		if s.Written == 0 || s.Dead == 0 || s.Duplicates == 0 {
			t.Fatalf("input %d: %+v; want events written, dead letters and duplicates", i, s)
		}
		written = append(written, s.Written)
		landJSON(t, "--from", in, "--lake", lakeDir, "--format", "parquet")
		if i == 0 {
			landJSON(t, "--from", in, "--lake", firstDir)
		}
	}
	ids, when := snapshots(t, tableDir)
	if len(ids) != 3 {
		t.Fatalf("%d snapshots, want one per input", len(ids))
	}
	// --snapshots lists them, oldest first, with the rows each holds.
	list := mustQuery(t, "--iceberg", "--lake", tableDir, "--snapshots")
	if len(list) != 4 || strings.Join(list[0], ",") != "snapshot_id,committed_at,operation,batch,rows,data_files,current" {
		t.Fatalf("--snapshots: %v", list)
	}
	rowsSoFar := int64(0)
	for i, r := range list[1:] {
		rowsSoFar += written[i]
		if r[0] != strconv.FormatInt(ids[i], 10) || r[1] != when[i].Format(time.RFC3339Nano) || r[2] != "append" ||
			r[4] != strconv.FormatInt(rowsSoFar, 10) || r[6] != strconv.FormatBool(i == 2) {
			t.Errorf("--snapshots row %d: %v; want snapshot %d of %v, %d rows", i+1, r, ids[i], when[i], rowsSoFar)
		}
	}

	queries := []string{
		"", // the default: count(*), count(DISTINCT event_uuid)
		"SELECT event_type, count(*), count(DISTINCT event_uuid) FROM events GROUP BY 1 ORDER BY 1",
		"SELECT created_date, event_subtype, count(*) FROM events GROUP BY ALL ORDER BY ALL",
		"SELECT count(*) FROM events WHERE event_type = 'payment' AND created_date = '2026-11-01'",
		"SELECT min(created_datetime), max(created_datetime) FROM events",
	}
	args := func(base []string, q string) []string {
		if q == "" {
			return base
		}
		return append(base, q)
	}
	for _, q := range queries {
		got := mustQuery(t, args([]string{"--iceberg", "--lake", tableDir}, q)...)
		want := mustQuery(t, args([]string{"--lake", lakeDir}, q)...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: the table answers\n%v\nthe lake\n%v", q, got, want)
		}
	}
	total := written[0] + written[1] + written[2]
	if got := mustQuery(t, "--iceberg", "--lake", tableDir); got[1][0] != strconv.FormatInt(total, 10) {
		t.Errorf("the table holds %s events, the runs wrote %d", got[1][0], total)
	}

	// Time travel.
	if when[1].Add(-time.Millisecond).Before(when[0]) {
		t.Fatalf("commits at %v and %v: no millisecond between them", when[0], when[1])
	}
	perType := "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1"
	firstTypes := mustQuery(t, "--lake", firstDir, perType)
	for _, sel := range [][]string{
		{"--snapshot", strconv.FormatInt(ids[0], 10)},
		{"--as-of", when[0].Format(time.RFC3339Nano)},
		{"--as-of", when[1].Add(-time.Millisecond).Format(time.RFC3339Nano)},
	} {
		base := append([]string{"--iceberg", "--lake", tableDir}, sel...)
		if got := mustQuery(t, base...); got[1][0] != strconv.FormatInt(written[0], 10) {
			t.Errorf("%v: %s events, want the first input's %d", sel, got[1][0], written[0])
		}
		if got := mustQuery(t, append(base, perType)...); !reflect.DeepEqual(got, firstTypes) {
			t.Errorf("%v: per type\n%v\nwant the first input's\n%v", sel, got, firstTypes)
		}
	}
	for _, sel := range [][]string{
		{"--snapshot", strconv.FormatInt(ids[1], 10)},
		{"--as-of", when[1].Format(time.RFC3339Nano)},
	} {
		if got := mustQuery(t, append([]string{"--iceberg", "--lake", tableDir}, sel...)...); got[1][0] != strconv.FormatInt(written[0]+written[1], 10) {
			t.Errorf("%v: %s events, want the first two inputs' %d", sel, got[1][0], written[0]+written[1])
		}
	}
	if got := mustQuery(t, "--iceberg", "--lake", tableDir, "--as-of", when[2].Add(time.Hour).Format(time.RFC3339)); got[1][0] != strconv.FormatInt(total, 10) {
		t.Errorf("as of an hour after the last commit: %s events, want %d", got[1][0], total)
	}

	before := when[0].Add(-time.Millisecond).Format(time.RFC3339Nano)
	_, err := queryCSV(t, "--iceberg", "--lake", tableDir, "--as-of", before)
	if !errors.Is(err, table.ErrBeforeFirstSnapshot) || !strings.Contains(err.Error(), "before the table's first snapshot") {
		t.Errorf("--as-of %s: %v; want the error that it is before the first snapshot", before, err)
	}
	bad := strconv.FormatInt(ids[0]^1, 10)
	_, err = queryCSV(t, "--iceberg", "--lake", tableDir, "--snapshot", bad)
	if !errors.Is(err, table.ErrNoSnapshot) || !strings.Contains(err.Error(), bad) {
		t.Errorf("--snapshot %s: %v; want the error that there is no such snapshot", bad, err)
	}
}

// TestQueryTableEmpty: a table with no snapshot answers the default query
// with zero events, and a SELECT * with no rows; a folder with no table is
// an error that says how to make one, and the query creates nothing there.
func TestQueryTableEmpty(t *testing.T) {
	dir := t.TempDir()
	tb, err := table.Open(context.Background(), table.Options{Warehouse: dir})
	if err != nil {
		t.Fatal(err)
	}
	tb.Close()
	if got := mustQuery(t, "--iceberg", "--lake", dir); fmt.Sprint(got) != "[[events distinct_uuids] [0 0]]" {
		t.Errorf("empty table, default query: %v", got)
	}
	if got := mustQuery(t, "--iceberg", "--lake", dir, "SELECT * FROM events"); len(got) != 1 {
		t.Errorf("empty table, SELECT *: %v, want the header only", got)
	}
	if got := mustQuery(t, "--iceberg", "--lake", dir, "--snapshots"); len(got) != 1 {
		t.Errorf("empty table, --snapshots: %v, want the header only", got)
	}
	_, err = queryCSV(t, "--iceberg", "--lake", dir, "--as-of", "2026-11-29T00:00:00Z")
	if !errors.Is(err, table.ErrBeforeFirstSnapshot) || !strings.Contains(err.Error(), "no snapshot yet") {
		t.Errorf("empty table, --as-of: %v", err)
	}

	none := t.TempDir()
	_, err = queryCSV(t, "--iceberg", "--lake", none)
	if !errors.Is(err, table.ErrNoTable) || !strings.Contains(err.Error(), "run --iceberg") {
		t.Errorf("no table: %v; want ErrNoTable saying how to land into one", err)
	}
	if m := glob(t, filepath.Join(none, "*")); len(m) != 0 {
		t.Errorf("the query created %v", m)
	}
}

// TestQueryTableHostileTypes: event types that are not plain folder names
// (hashed folders in the table) are read back with their own type and
// count, not their folder's.
func TestQueryTableHostileTypes(t *testing.T) {
	dir := t.TempDir()
	types := []string{"../x", "a/b", "%2F", "Payment", "payment", "/../../etc", "a b"}
	var in strings.Builder
	want := map[string]int{}
	n := 0
	for i, typ := range types {
		for j := 0; j <= i; j++ {
			n++
			ev, _ := json.Marshal(map[string]any{"event_uuid": fmt.Sprintf("u-%d", n), "event_name": typ + ":created", "created_at": 1764000000 + n})
			in.Write(append(ev, '\n'))
			want[typ]++
		}
	}
	file := filepath.Join(dir, "hostile.jsonl")
	writeFile(t, file, []byte(in.String()))
	lakeDir := filepath.Join(dir, "lake")
	if s := landJSON(t, "--from", file, "--lake", lakeDir, "--iceberg"); s.Written != int64(n) {
		t.Fatalf("landed %+v, want all %d written", s, n)
	}
	got := map[string]int{}
	for _, r := range mustQuery(t, "--iceberg", "--lake", lakeDir, "SELECT event_type, count(*) FROM events GROUP BY 1")[1:] {
		c, err := strconv.Atoi(r[1])
		if err != nil {
			t.Fatal(err)
		}
		got[r[0]] = c
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per type %v, want %v", got, want)
	}
}

// TestQueryTableUsage: flags no query can use are usage errors, before
// anything is opened.
func TestQueryTableUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iceberg", "--lake", "s3://bucket/lake"}, "the lake must be a folder"},
		{[]string{"--iceberg", "--lake", dir, "--snapshot", "1", "--as-of", "2026-11-29T00:00:00Z"}, "give one"},
		{[]string{"--iceberg", "--lake", dir, "--as-of", "yesterday"}, "RFC 3339"},
		{[]string{"--lake", dir, "--snapshot", "1"}, "add --iceberg"},
		{[]string{"--lake", dir, "--as-of", "2026-11-29T00:00:00Z"}, "add --iceberg"},
		{[]string{"--iceberg", "--lake", dir, "--partition", "event_type=x/"}, "mirror an s3:// lake"},
		{[]string{"--iceberg", "--lake", dir, "--cache", dir}, "mirror an s3:// lake"},
		{[]string{"--iceberg", "--lake", dir, "--snapshots", "SELECT 1"}, "--snapshots lists the snapshots"},
		{[]string{"--iceberg", "--lake", dir, "--snapshots", "--snapshot", "1"}, "--snapshots lists the snapshots"},
		{[]string{"--lake", dir, "--snapshots"}, "add --iceberg"},
	} {
		_, err := queryCSV(t, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want a usage error with %q", tc.args, err, tc.want)
		}
	}
	if m := glob(t, filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("usage errors created %v", m)
	}
}

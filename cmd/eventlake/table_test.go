//go:build iceberg

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/table"
	"github.com/eventlake/eventlake/internal/testservers"
)

// TestRunIntoTheTable lands a generated file into the Iceberg table with
// `run --iceberg`, twice: the first run commits every good event once (the
// table's row count is what the summary says was written), dead letters stay
// NDJSON in the lake folder, and the second run commits nothing. Another
// file of the same name with other events is refused with the way out
// (--source-id), and lands with it.
func TestRunIntoTheTable(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "in", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(events), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli(t, nil, "gen", "-n", "20000", "--seed", "5", "--bad", "0.01", "--dup", "0.01", "--to", events); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	runJSON := func(args ...string) (summary, error) {
		out, stderr, err := cli(t, nil, append([]string{"run", "--lake", lakeDir, "--iceberg", "--json", "--quiet"}, args...)...)
		var s summary
		if jerr := json.Unmarshal([]byte(out), &s); jerr != nil {
			t.Fatalf("%v: summary is not JSON: %v\n%s\n%s", args, jerr, out, stderr)
		}
		return s, err
	}
	first, err := runJSON("--from", events)
	if err != nil {
		t.Fatal(err)
	}
	if first.EventsIn != 20000 || first.Written == 0 || first.Dead == 0 || first.Duplicates == 0 ||
		first.EventsIn != first.Written+first.Present+first.Dead+first.Duplicates+first.Unwritten {
		t.Fatalf("counts %+v", first)
	}
	rows, snapshots := describeTable(t, lakeDir)
	if rows != first.Written {
		t.Errorf("the table holds %d rows, the run wrote %d", rows, first.Written)
	}
	if dead := glob(t, filepath.Join(lakeDir, "_dead_letters", "reason=*", "*.jsonl.gz")); len(dead) == 0 {
		t.Error("no dead-letter objects in the lake folder")
	}
	if m := glob(t, filepath.Join(lakeDir, "event_type=*")); len(m) != 0 {
		t.Errorf("Hive objects written besides the table: %v", m)
	}

	again, err := runJSON("--from", events)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != 0 || again.Present != first.Written {
		t.Errorf("second run: written %d, present %d; want 0, %d", again.Written, again.Present, first.Written)
	}
	if rows2, snaps2 := describeTable(t, lakeDir); rows2 != rows || snaps2 != snapshots {
		t.Errorf("second run changed the table: %d rows in %d snapshots, was %d in %d", rows2, snaps2, rows, snapshots)
	}

	// Another input called events.jsonl: the same lines but for one event
	// whose event_uuid differs in one character, so its batches have the
	// same names and one of them other rows.
	other := filepath.Join(dir, "other", "events.jsonl")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	raw := readFile(t, events)
	i := strings.Index(string(raw), `"event_uuid":"`) + len(`"event_uuid":"`)
	changed := append([]byte(nil), raw...)
	changed[i] = map[bool]byte{true: 'x', false: 'y'}[raw[i] != 'x']
	writeFile(t, other, changed)
	_, err = runJSON("--from", other)
	if !errors.Is(err, table.ErrConflictingBatch) || !strings.Contains(err.Error(), "--source-id") {
		t.Fatalf("same-named input: %v; want the conflicting-batch error naming --source-id", err)
	}
	third, err := runJSON("--from", other, "--source-id", "other-events")
	if err != nil {
		t.Fatal(err)
	}
	if rows3, _ := describeTable(t, lakeDir); rows3 != rows+third.Written || third.Written == 0 {
		t.Errorf("with --source-id: table %d rows, want %d + %d", rows3, rows, third.Written)
	}
}

// TestTableUsage: --iceberg's usage errors, and the batch size the CLI
// defaults to is the table package's.
func TestTableUsage(t *testing.T) {
	if tableBatchBytes != table.BatchBytes {
		t.Errorf("tableBatchBytes %d, table.BatchBytes %d", tableBatchBytes, table.BatchBytes)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeFile(t, in, []byte(`{"event_uuid":"u","event_name":"a:b","created_at":1}`+"\n"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--from", in, "--lake", "s3://bucket/lake", "--iceberg"}, "--iceberg: the lake must be a folder"},
		{[]string{"run", "--from", in, "--lake", dir, "--iceberg", "--format", "parquet"}, "--iceberg writes Parquet data files itself"},
	} {
		_, _, err := cli(t, nil, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want a usage error with %q", tc.args, err, tc.want)
		}
	}
}

// describeTable returns the rows and snapshots of the lake folder's table.
func describeTable(t *testing.T, dir string) (rows int64, snapshots int) {
	t.Helper()
	tb, err := table.Open(context.Background(), table.Options{Warehouse: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	s, err := tb.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Rows, s.Snapshots
}

// TestStreamIntoTheTable consumes a Kinesis stream (kinesalite, 2 shards)
// into the lake folder's table with `run --from kinesis://… --iceberg`,
// then replays it from TRIM_HORIZON (a fresh checkpoint): the first pass
// commits every good event once (as many rows as landing the same
// generated events from a file writes), the replay commits nothing.
func TestStreamIntoTheTable(t *testing.T) {
	testservers.Credentials(t)
	endpoint := testservers.Kinesalite(t)
	dir := t.TempDir()
	gen := []string{"gen", "-n", "3000", "--seed", "11", "--bad", "0.01", "--quiet"}
	if _, stderr, err := cli(t, nil, append(gen, "--to", "kinesis://events", "--kinesis-endpoint", endpoint, "--create-shards", "2")...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	file := filepath.Join(dir, "events.jsonl")
	if _, stderr, err := cli(t, nil, append(gen, "--to", file)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, stderr, err := cli(t, nil, "run", "--from", file, "--lake", filepath.Join(dir, "raw"), "--json", "--quiet")
	var want summary
	if err != nil || json.Unmarshal([]byte(out), &want) != nil || want.Written == 0 || want.Dead == 0 {
		t.Fatalf("landing the file: %v %+v\n%s", err, want, stderr)
	}

	lakeDir := filepath.Join(dir, "lake")
	consume := func(checkpoint string) {
		t.Helper()
		if _, stderr, err := cli(t, nil, "run", "--from", "kinesis://events", "--kinesis-endpoint", endpoint,
			"--lake", lakeDir, "--iceberg", "--drain", "--quiet", "--batch-size", "500",
			"--checkpoint", filepath.Join(dir, checkpoint)); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
	}
	consume("first.json")
	rows, snapshots := describeTable(t, lakeDir)
	if rows != want.Written {
		t.Fatalf("the table holds %d rows; landing the same events from a file wrote %d", rows, want.Written)
	}
	if snapshots < 2 {
		t.Fatalf("%d snapshots: want one per delivered batch (two shards at least)", snapshots)
	}
	if m := glob(t, filepath.Join(lakeDir, "event_type=*")); len(m) != 0 {
		t.Errorf("Hive objects written besides the table: %v", m)
	}
	if dead := glob(t, filepath.Join(lakeDir, "_dead_letters", "reason=*", "*")); len(dead) == 0 {
		t.Error("no dead letters in the lake folder")
	}

	consume("replay.json") // no checkpoint: every shard from TRIM_HORIZON
	if r, s := describeTable(t, lakeDir); r != rows || s != snapshots {
		t.Fatalf("after the replay: %d rows in %d snapshots, want %d in %d", r, s, rows, snapshots)
	}
}

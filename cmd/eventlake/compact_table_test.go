//go:build iceberg

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompactTable lands a generated file into the table twice under two
// source ids (every event twice, in small batches), compacts with expiry
// and the orphan sweep, and checks: the table holds each event once, the
// duplicates dropped are the second landing's events, expired batches
// still commit nothing when landed again, only referenced files are left,
// and a second compaction has nothing to do.
func TestCompactTable(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "20000", "--seed", "7", "--bad", "0.01", "--to", events); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	land := func(source string) summary {
		out, stderr, err := cli(t, nil, "run", "--lake", lakeDir, "--iceberg", "--json", "--quiet", "--batch-events", "2000", "--source-id", source, "--from", events)
		if err != nil {
			t.Fatalf("run %s: %v\n%s", source, err, stderr)
		}
		var s summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary: %v\n%s", err, out)
		}
		return s
	}
	first := land("first")
	second := land("second")
	if first.Written == 0 || second.Written != first.Written {
		t.Fatalf("landed %d then %d", first.Written, second.Written)
	}
	rows, _ := describeTable(t, lakeDir)
	if rows != 2*first.Written {
		t.Fatalf("%d rows before compaction, want %d", rows, 2*first.Written)
	}
	time.Sleep(5 * time.Millisecond) // snapshots older than --expire-older-than 1ms

	out, stderr, err := cli(t, nil, "compact", "--iceberg", "--lake", lakeDir, "--json", "--expire-older-than", "1ms", "--orphans-older-than", "0")
	if err != nil {
		t.Fatalf("compact: %v\n%s\n%s", err, out, stderr)
	}
	var got tableCompactSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("compact summary: %v\n%s", err, out)
	}
	c := got.Compaction
	if c.Committed == 0 || c.Committed != c.Partitions || c.Failed+c.Dropped != 0 ||
		c.Events != first.Written || c.Duplicates != second.Written || c.FilesAfter >= c.FilesBefore {
		t.Fatalf("compaction: %+v", c.RoundResult)
	}
	if got.Expiry == nil || got.Expiry.Kept != 1 || got.Expiry.Batches == 0 || got.Orphans == nil || len(got.Orphans.Deleted) == 0 {
		t.Fatalf("expiry %+v, orphans %+v", got.Expiry, got.Orphans)
	}
	rows, snaps := describeTable(t, lakeDir)
	if rows != first.Written || snaps != 1 {
		t.Fatalf("after compaction: %d rows in %d snapshots, want %d in 1", rows, snaps, first.Written)
	}
	// Exactly once survives the expiry: landing again commits nothing.
	if again := land("first"); again.Written != 0 || again.Present != first.Written {
		t.Fatalf("landing again after expiry: written %d, present %d; want 0, %d", again.Written, again.Present, first.Written)
	}
	// Only the compacted files are left among the data files.
	var data []string
	err = filepath.WalkDir(filepath.Join(lakeDir, "eventlake.db", "events", "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data = append(data, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != int(c.FilesAfter) {
		t.Fatalf("%d data files on disk, the table has %d", len(data), c.FilesAfter)
	}
	for _, p := range data {
		if !strings.HasPrefix(filepath.Base(p), "compacted.") {
			t.Fatalf("unreferenced data file left: %s", p)
		}
	}

	// The text report, and nothing left to do.
	out, stderr, err = cli(t, nil, "compact", "--iceberg", "--lake", lakeDir)
	if err != nil {
		t.Fatalf("compact again: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "0 partitions to compact, 0 committed") || !strings.Contains(out, "orphans") {
		t.Fatalf("second compaction:\n%s", out)
	}
}

// TestCompactTableUsage: usage mistakes are exit-2 errors, before anything
// is opened.
func TestCompactTableUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"compact", "--iceberg", "--lake", dir, "--expire-older-than", "-1h"},
		{"compact", "--iceberg", "--lake", dir, "--retain-last", "0"},
		{"compact", "--iceberg", "--lake", "s3://bucket/lake"},
		{"compact", "--iceberg", "--lake", dir, "extra"},
	} {
		if _, _, err := cli(t, nil, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
	}
}

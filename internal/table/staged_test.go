package table

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	lakefolder "github.com/eventlake/eventlake/internal/lake/folder"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// stage stages a batch and sends the result through JSON, as a queue
// carries it.
func stage(t testing.TB, tb *Table, b Batch) Staged {
	t.Helper()
	st, res, err := tb.Stage(context.Background(), b)
	if err != nil {
		t.Fatalf("stage %s: %v", b.ID(), err)
	}
	if res.AlreadyCommitted || len(st.Files) != res.Files || st.Rows != len(b.Rows) {
		t.Fatalf("stage %s: %+v, %d files staged", b.ID(), res, len(st.Files))
	}
	msg, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back Staged
	if err := json.Unmarshal(msg, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// manifestFiles lists the current snapshot's data files by path below the
// table's location, with what the manifest says of each.
func manifestFiles(t testing.TB, tb *Table) map[string]iceberg.DataFile {
	t.Helper()
	ctx := context.Background()
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]iceberg.DataFile{}
	for _, task := range tasks {
		rel := strings.TrimPrefix(task.File.FilePath(), tbl.Location())
		out[rel] = task.File
	}
	return out
}

// TestStagedRoundTrip: batches staged by writers and committed by one
// committer in one snapshot read back as the rows, each once, and the
// manifest describes each file exactly as Commit's does (the same batches
// committed directly in another warehouse).
func TestStagedRoundTrip(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 3000, 51)
	bs := batches("staged", rows, 500)
	tb := open(t, t.TempDir())
	var staged []Staged
	for _, b := range bs {
		staged = append(staged, stage(t, tb, b))
	}
	if got := len(snapshotsOf(t, tb)); got != 0 {
		t.Fatalf("%d snapshots after staging, want none", got)
	}
	res, err := tb.CommitStaged(ctx, staged)
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 6 || res.Attempts != 1 || res.SnapshotID == 0 {
		t.Fatalf("commit staged: %+v", res)
	}
	for i, r := range res.Results {
		if r.Err != nil || r.AlreadyCommitted || r.SnapshotID != res.SnapshotID || r.Batch != bs[i].ID() {
			t.Fatalf("batch %d: %+v", i, r)
		}
	}
	checkTable(t, tb, rows)
	snaps := snapshotsOf(t, tb)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots, want 1", len(snaps))
	}
	p := snaps[0].Summary.Properties
	if p[PropBatch] != "6 batches" || strings.Count(p[PropBatches], ",") != 5 || !strings.Contains(p[PropBatches], "staged/0000000501/0000001000/") {
		t.Fatalf("summary %v", p)
	}

	direct := open(t, t.TempDir())
	for _, b := range bs {
		commit(t, direct, b)
	}
	sameEntries(t, manifestFiles(t, tb), manifestFiles(t, direct))
}

// sameEntries checks that staged data files have the manifest entries of
// the same files committed directly: every field, nil and empty maps told
// apart.
func sameEntries(t *testing.T, got, want map[string]iceberg.DataFile) {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d data files staged, %d committed directly", len(got), len(want))
	}
	for rel, w := range want {
		g, ok := got[rel]
		if !ok {
			t.Fatalf("data file %s committed directly is not among the staged ones", rel)
		}
		for name, pair := range map[string][2]any{
			"count": {g.Count(), w.Count()}, "size": {g.FileSizeBytes(), w.FileSizeBytes()},
			"partition": {g.Partition(), w.Partition()}, "column sizes": {g.ColumnSizes(), w.ColumnSizes()},
			"value counts": {g.ValueCounts(), w.ValueCounts()}, "null counts": {g.NullValueCounts(), w.NullValueCounts()},
			"NaN counts": {g.NaNValueCounts(), w.NaNValueCounts()}, "lower bounds": {g.LowerBoundValues(), w.LowerBoundValues()},
			"upper bounds": {g.UpperBoundValues(), w.UpperBoundValues()}, "split offsets": {g.SplitOffsets(), w.SplitOffsets()},
			"sort order": {g.SortOrderID(), w.SortOrderID()}, "format": {g.FileFormat(), w.FileFormat()},
			"content": {g.ContentType(), w.ContentType()}, "spec": {g.SpecID(), w.SpecID()},
		} {
			if !reflect.DeepEqual(pair[0], pair[1]) {
				t.Fatalf("data file %s: %s %#v staged, %#v directly", rel, name, pair[0], pair[1])
			}
		}
	}
}

// TestStagedRoundTripHourly: an hourly table's staged entries (the hour
// transform: an int, no logical type) equal a direct commit's.
func TestStagedRoundTripHourly(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 1000, 63)
	bs := batches("hourly", rows, 500)
	openHourly := func() *Table {
		tb, err := Open(ctx, Options{Warehouse: t.TempDir(), Hourly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tb.Close() })
		return tb
	}
	tb, direct := openHourly(), openHourly()
	var st []Staged
	for _, b := range bs {
		st = append(st, stage(t, tb, b))
		commit(t, direct, b)
	}
	if res, err := tb.CommitStaged(ctx, st); err != nil || res.Batches != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	sameEntries(t, manifestFiles(t, tb), manifestFiles(t, direct))
}

// snapshotsOf lists the table's snapshots.
func snapshotsOf(t testing.TB, tb *Table) []itable.Snapshot {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl.Metadata().Snapshots()
}

// TestStagedExactlyOnce: whatever mix of direct commits, staged copies and
// repeated calls, each batch is in the table once, and both paths find the
// batches the other committed.
func TestStagedExactlyOnce(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 2000, 52)
	bs := batches("once", rows, 500)
	tb := open(t, t.TempDir())
	st := make([]Staged, len(bs))
	for i, b := range bs {
		st[i] = stage(t, tb, b)
	}
	direct := commit(t, tb, bs[0])

	// b0 is in (directly), b1 given twice, b2 once; b3 later.
	res, err := tb.CommitStaged(ctx, []Staged{st[0], st[1], st[1], st[2]})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	switch {
	case !r[0].AlreadyCommitted || r[0].SnapshotID != direct.SnapshotID:
		t.Fatalf("batch committed directly: %+v, want already committed by %d", r[0], direct.SnapshotID)
	case r[1].AlreadyCommitted || r[1].SnapshotID != res.SnapshotID || r[3].SnapshotID != res.SnapshotID:
		t.Fatalf("staged batches: %+v", r)
	case !r[2].AlreadyCommitted || r[2].SnapshotID != res.SnapshotID || r[2].Err != nil:
		t.Fatalf("the second copy: %+v, want already committed by %d", r[2], res.SnapshotID)
	case res.Batches != 2:
		t.Fatalf("%d batches in the snapshot, want 2", res.Batches)
	}
	// Again: nothing to commit.
	again, err := tb.CommitStaged(ctx, []Staged{st[2], st[1]})
	if err != nil || again.SnapshotID != 0 || !again.Results[0].AlreadyCommitted || !again.Results[1].AlreadyCommitted ||
		again.Results[0].SnapshotID != res.SnapshotID {
		t.Fatalf("again: %+v, %v", again, err)
	}
	// A direct commit of a batch a multi-batch snapshot holds commits
	// nothing; staging it again writes nothing.
	if c := commit(t, tb, bs[2]); !c.AlreadyCommitted || c.SnapshotID != res.SnapshotID {
		t.Fatalf("direct commit of a staged batch: %+v", c)
	}
	if s, sr, err := tb.Stage(ctx, bs[1]); err != nil || !sr.AlreadyCommitted || len(s.Files) != 0 {
		t.Fatalf("stage of a committed batch: %+v %+v %v", s, sr, err)
	}
	// The same positions with other rows: refused, the others commit.
	changed := bs[3]
	changed.Rows = slices.Clone(changed.Rows)
	changed.Rows[0].Event = `{"other":1}`
	other := stage(t, tb, changed)
	mixed, err := tb.CommitStaged(ctx, []Staged{other, st[3]})
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Results[0].Err != nil || mixed.Results[1].Err == nil || !errors.Is(mixed.Results[1].Err, ErrConflictingBatch) {
		// The first copy named the positions; the second, with st[3]'s
		// true rows, conflicts with it within the call.
		t.Fatalf("the same positions with two hashes in one call: %+v", mixed.Results)
	}
	// Now the changed batch is in; the true one conflicts with it, as
	// Commit reports.
	if _, err := tb.Commit(ctx, bs[3]); !errors.Is(err, ErrConflictingBatch) {
		t.Fatalf("commit after a conflicting staged batch: %v", err)
	}
}

// TestStagedConflictingBatch: a staged batch whose positions the table
// holds with other rows is refused; the others of the call commit.
func TestStagedConflictingBatch(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 1000, 53)
	bs := batches("conf", rows, 500)
	tb := open(t, t.TempDir())
	changed := bs[0]
	changed.Rows = slices.Clone(changed.Rows)
	changed.Rows[1].Event = `{"other":2}`
	bad := stage(t, tb, changed) // staged before the true batch commits
	good := stage(t, tb, bs[1])
	commit(t, tb, bs[0])
	if _, _, err := tb.Stage(ctx, changed); !errors.Is(err, ErrConflictingBatch) {
		t.Fatalf("stage of a conflicting batch: %v", err)
	}
	res, err := tb.CommitStaged(ctx, []Staged{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Results[0].Err, ErrConflictingBatch) || res.Results[1].Err != nil || res.Batches != 1 {
		t.Fatalf("results %+v", res)
	}
	checkTable(t, tb, rows)
}

// TestStagedHostile: a staged batch is input (it came over a queue). One
// that names a file outside the table's data folder, another batch's
// file, a wrong partition, statistics the schema or the file cannot
// have, a wrong row count or a bad
// identity gets a clear error, and the table takes in nothing of it.
func TestStagedHostile(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 1000, 54)
	bs := batches("hostile", rows, 500)
	tb := open(t, t.TempDir())
	good := stage(t, tb, bs[0])
	other := stage(t, tb, bs[1])
	mut := func(f func(s *Staged)) Staged {
		b, _ := json.Marshal(good)
		var s Staged
		json.Unmarshal(b, &s)
		f(&s)
		return s
	}
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	cases := []struct {
		name string
		s    Staged
		want string
	}{
		{"outside the table", mut(func(s *Staged) { s.Files[0].Path = "file:///etc/passwd" }), "is not where"},
		{"dot-dot", mut(func(s *Staged) { s.Files[0].Path = strings.Replace(s.Files[0].Path, "/data/", "/data/../../", 1) }), "is not where"},
		{"another batch's file", mut(func(s *Staged) { s.Files[0] = other.Files[0] }), "is not where"},
		{"a file named twice", mut(func(s *Staged) { s.Files = append(s.Files, s.Files[0]) }), "twice"},
		{"wrong partition", mut(func(s *Staged) { s.Files[0].Partition[0].String = str("../../x") }), "is not where"},
		{"partition of another type", mut(func(s *Staged) { s.Files[0].Partition[0].String, s.Files[0].Partition[0].Int = nil, num(3) }), "cannot take"},
		{"day out of range", mut(func(s *Staged) { s.Files[0].Partition[1].Int = num(1 << 40) }), "out of range"},
		{"partition field", mut(func(s *Staged) { s.Files[0].Partition[1].Field = 7 }), "is for field"},
		{"missing partition value", mut(func(s *Staged) { s.Files[0].Partition = s.Files[0].Partition[:1] }), "partition values"},
		{"unknown column", mut(func(s *Staged) { s.Files[0].ValueCounts[99] = 1 }), "schema does not have"},
		{"count beyond the rows", mut(func(s *Staged) { s.Files[0].NullCounts[1] = s.Files[0].Rows + 1 }), "null count"},
		{"negative column size", mut(func(s *Staged) { s.Files[0].ColumnSizes[7] = -1 }), "column size"},
		{"bound too long", mut(func(s *Staged) { s.Files[0].Upper[7] = make([]byte, 1000) }), "upper bound of 1000 bytes"},
		{"split offsets", mut(func(s *Staged) { s.Files[0].SplitOffsets = []int64{s.Files[0].Size} }), "split offsets"},
		{"file rows", mut(func(s *Staged) { s.Files[0].Rows = 0 }), "0 rows"},
		{"row count", mut(func(s *Staged) { s.Rows++ }), "rows"},
		{"no files", mut(func(s *Staged) { s.Files = nil }), "no data file"},
		{"bad hash", mut(func(s *Staged) { s.Hash = "xyz" }), "hex"},
		{"bad source", mut(func(s *Staged) { s.Source = "../x" }), "source stem"},
		{"bad position", mut(func(s *Staged) { s.First = "1/2" }), "not safe"},
		{"size", mut(func(s *Staged) { s.Files[0].Size = 0 }), "size"},
	}
	for _, c := range cases {
		res, err := tb.CommitStaged(ctx, []Staged{c.s})
		if err != nil {
			t.Fatalf("%s: the call failed: %v", c.name, err)
		}
		if e := res.Results[0].Err; e == nil || !strings.Contains(e.Error(), c.want) {
			t.Fatalf("%s: %v, want an error saying %q", c.name, e, c.want)
		}
		if res.SnapshotID != 0 {
			t.Fatalf("%s: committed snapshot %d", c.name, res.SnapshotID)
		}
	}
	if n := len(snapshotsOf(t, tb)); n != 0 {
		t.Fatalf("%d snapshots after hostile batches", n)
	}
	many := make([]Staged, MaxStagedBatches+1)
	if _, err := tb.CommitStaged(ctx, many); err == nil {
		t.Fatal("more than MaxStagedBatches: no error")
	}
	// The true batches still commit.
	if res, err := tb.CommitStaged(ctx, []Staged{good, other}); err != nil || res.Batches != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	checkTable(t, tb, rows)
}

// TestStagedExpiry: the batches of an expired multi-batch snapshot are
// remembered, so staging or committing them again adds nothing.
func TestStagedExpiry(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 1500, 55)
	bs := batches("sexp", rows, 500)
	tb := open(t, t.TempDir())
	var st []Staged
	for _, b := range bs {
		st = append(st, stage(t, tb, b))
	}
	res, err := tb.CommitStaged(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	compactTable(t, tb, CompactOptions{})
	time.Sleep(3 * time.Millisecond)
	exp, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	if exp.Batches != 3 {
		t.Fatalf("expire: %+v, want 3 batches remembered", exp)
	}
	again, err := tb.CommitStaged(ctx, st)
	if err != nil || again.SnapshotID != 0 {
		t.Fatalf("after expiry: %+v %v", again, err)
	}
	for _, r := range again.Results {
		if !r.AlreadyCommitted || r.SnapshotID != res.SnapshotID {
			t.Fatalf("after expiry: %+v, want already committed by %d", r, res.SnapshotID)
		}
	}
	if c := commit(t, tb, bs[1]); !c.AlreadyCommitted {
		t.Fatalf("direct commit after expiry: %+v", c)
	}
	checkTable(t, tb, rows)
}

// TestStagedCommitters: 4 writers stage 16 batches (2 of them twice) and
// hand them to 2 committers, which commit what they receive in a few
// snapshots: every event once, every conflict resolved.
func TestStagedCommitters(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	rows := genRows(t, 4000, 56)
	bs := batches("comm", rows, 250)
	queue := make(chan Staged, len(bs)+2)
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			tb, err := Open(ctx, Options{Warehouse: wh})
			if err != nil {
				t.Error(err)
				return
			}
			defer tb.Close()
			mine := []Batch{bs[w], bs[w+4], bs[w+8], bs[w+12]}
			if w < 2 {
				mine = append(mine, bs[w+5]) // a copy of another writer's batch
			}
			for _, b := range mine {
				st, _, err := tb.Stage(ctx, b)
				if err != nil {
					t.Error(err)
					return
				}
				if len(st.Files) > 0 {
					queue <- st
				}
			}
		}()
	}
	go func() { writers.Wait(); close(queue) }()
	var (
		committers sync.WaitGroup
		mu         sync.Mutex
		snapshots  = map[int64]bool{}
		committed  = map[string]int{}
		attempts   int
	)
	for range 2 {
		committers.Add(1)
		go func() {
			defer committers.Done()
			tb, err := Open(ctx, Options{Warehouse: wh})
			if err != nil {
				t.Error(err)
				return
			}
			defer tb.Close()
			for {
				got := receive(queue, 5)
				if got == nil {
					return
				}
				res, err := tb.CommitStaged(ctx, got)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				attempts += res.Attempts
				if res.SnapshotID != 0 {
					snapshots[res.SnapshotID] = true
				}
				for _, r := range res.Results {
					if r.Err != nil {
						t.Errorf("batch %s: %v", r.Batch, r.Err)
					}
					if !r.AlreadyCommitted {
						committed[r.Batch]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	committers.Wait()
	if t.Failed() {
		return
	}
	for _, b := range bs {
		if committed[b.ID()] != 1 {
			t.Fatalf("batch %s committed %d times", b.ID(), committed[b.ID()])
		}
	}
	tb := open(t, wh)
	checkTable(t, tb, rows)
	if n := len(snapshotsOf(t, tb)); n != len(snapshots) || n > len(bs) {
		t.Fatalf("%d snapshots, %d committed", n, len(snapshots))
	}
	t.Logf("16 batches staged by 4 writers, committed by 2 committers in %d snapshots, %d attempts", len(snapshots), attempts)
}

// TestStagingSink: the pipeline lands generated input (bad events,
// duplicates) through a staging sink: nothing is committed, each batch is
// handed off once as a message; the committer commits the messages, a
// re-run's and a failed handoff's redelivery among them, in one snapshot,
// and the table holds every good event once.
func TestStagingSink(t *testing.T) {
	ctx := context.Background()
	opts := gen.Options{Events: 12000, Seed: 57, Bad: 0.03, Dup: 0.03}
	x := genInput(t, opts)
	tb := open(t, t.TempDir())
	ds, err := lakefolder.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := lake.NewWriter(ds, &lake.WriterOptions{Compression: lake.None})
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	failNext := true
	s, err := NewStagingSink(tb, dead, func(_ context.Context, st Staged) error {
		msg, err := EncodeStaged(st)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		if failNext { // the message went out, but the sender saw an error
			failNext = false
			return errors.New("queue timed out")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{Source: "events.jsonl", Batch: pipeline.BatchPolicy{Events: 4000}}
	if _, err := runSink(t, s, cfg, x.input); err == nil || !strings.Contains(err.Error(), "queue timed out") {
		t.Fatalf("a failed handoff: %v", err)
	}
	st, err := runSink(t, s, cfg, x.input) // the redelivery
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != int64(len(x.rows)) || st.DeadLetters != x.badN || st.Batches != 3 {
		t.Fatalf("stats %+v; want %d written, %d dead, 3 batches", st, len(x.rows), x.badN)
	}
	if n := len(snapshotsOf(t, tb)); n != 0 {
		t.Fatalf("%d snapshots before the committer ran", n)
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4 (one batch twice)", len(msgs))
	}
	var staged []Staged
	for _, m := range msgs {
		if !strings.HasPrefix(string(m), stagedMagic) || len(m) > MaxStagedMessage {
			t.Fatalf("message of %d bytes beginning %.30q", len(m), m)
		}
		s, err := DecodeStaged(m)
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, s)
	}
	res, err := tb.CommitStaged(ctx, staged)
	if err != nil || res.Batches != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	checkTable(t, tb, x.rows)
	// A landing run after the commit stages nothing and hands off nothing.
	again, err := runSink(t, s, cfg, x.input)
	if err != nil || again.AlreadyPresent != st.Written || len(msgs) != 4 {
		t.Fatalf("re-run after the commit: %+v %v, %d messages", again, err, len(msgs))
	}
}

// TestDecodeStaged: a message is the magic and base64 of gzipped JSON, or
// plain JSON; anything else, a zip bomb, unknown fields or trailing data
// is a clear error.
func TestDecodeStaged(t *testing.T) {
	st := Staged{Source: "s", First: "1", Last: "2", Hash: "0123456789abcdef", Rows: 1, Files: []StagedFile{{Path: "p", Size: 1}}}
	msg, err := EncodeStaged(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeStaged(msg)
	if err != nil || back.ID() != st.ID() || back.Hash != st.Hash || len(back.Files) != 1 {
		t.Fatalf("%+v %v", back, err)
	}
	plain, _ := json.Marshal(st)
	if back, err := DecodeStaged(plain); err != nil || back.Rows != 1 {
		t.Fatalf("plain JSON: %+v %v", back, err)
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte(`{"source":"`))
	zw.Write(bytes.Repeat([]byte("a"), maxStagedUnpacked+10))
	zw.Close()
	for name, c := range map[string]struct {
		msg  string
		want string
	}{
		"empty":          {"", "not a staged batch"},
		"text":           {"hello", "not a staged batch"},
		"bad base64":     {stagedMagic + "!!!", "base64"},
		"not gzip":       {stagedMagic + base64.StdEncoding.EncodeToString([]byte("plain")), "gzip"},
		"bomb":           {stagedMagic + base64.StdEncoding.EncodeToString(bomb.Bytes()), "more than"},
		"unknown field":  {`{"source":"s","extra":1}`, "unknown field"},
		"trailing data":  {`{"source":"s"} {}`, "more after"},
		"wrong type":     {`{"rows":"many"}`, "cannot unmarshal"},
		"truncated JSON": {`{"source":`, "unexpected EOF"},
	} {
		if _, err := DecodeStaged([]byte(c.msg)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
	big := st
	big.Files = nil
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 { // bounds that do not compress: 1000 x 300 bytes
		b := make([]byte, 300)
		for j := range b {
			b[j] = byte(rnd.Uint32())
		}
		big.Files = append(big.Files, StagedFile{Path: fmt.Sprintf("file-%d", i), Size: 1, Lower: map[int][]byte{7: b}})
	}
	if _, err := EncodeStaged(big); !errors.Is(err, errStagedTooBig) {
		t.Fatalf("a message over the limit: %v", err)
	}
}

// TestStagedOldBatchVerified: a batch staged longer than
// VerifyStagedAfter ago commits only if its files are still there, whole
// (the orphan sweep may have removed them); young batches and old ones
// with their files commit.
func TestStagedOldBatchVerified(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 1500, 58)
	bs := batches("old", rows, 500)
	tb := open(t, t.TempDir())
	var st []Staged
	for _, b := range bs {
		st = append(st, stage(t, tb, b))
	}
	old := time.Now().Add(-VerifyStagedAfter - time.Minute).UnixMilli()
	st[0].StagedAt, st[1].StagedAt = old, old
	if err := os.Remove(localPath(t, st[0].Files[0].Path)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(localPath(t, st[1].Files[1].Path), 10); err != nil {
		t.Fatal(err)
	}
	res, err := tb.CommitStaged(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Results[0].Err; e == nil || !strings.Contains(e.Error(), "is gone") || !strings.Contains(e.Error(), "land the batch again") {
		t.Fatalf("an old batch with a file gone: %v", e)
	}
	if e := res.Results[1].Err; e == nil || !strings.Contains(e.Error(), "holds 10 bytes") {
		t.Fatalf("an old batch with a file cut short: %v", e)
	}
	if res.Results[2].Err != nil || res.Batches != 1 {
		t.Fatalf("the young batch: %+v", res)
	}
	// Its files back (the batch landed again), the old batch commits.
	again := stage(t, tb, bs[0])
	again.StagedAt = old
	if res, err := tb.CommitStaged(ctx, []Staged{again}); err != nil || res.Batches != 1 {
		t.Fatalf("the old batch landed again: %+v %v", res, err)
	}
}

// TestStagedByReference: a batch of more partitions than a message holds
// (here with the limit lowered) is handed over by reference to a file of the table's staged folder, and
// commits; a reference elsewhere, to a missing file, or to another
// batch's file is refused.
func TestStagedByReference(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 2000, 59)
	bs := batches("ref", rows, 1000)
	defer func(n int) { stagedMessageLimit = n }(stagedMessageLimit)
	stagedMessageLimit = 4 << 10 // ~40 files: a message of ~15 KB (1,000 files fit 256 KiB)
	tb := open(t, t.TempDir())
	var msgs [][]byte
	var staged []Staged
	for _, b := range bs {
		st, _, err := tb.Stage(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := EncodeStaged(st); err == nil {
			t.Fatalf("a batch of %d files fits a message: the test needs more partitions", len(st.Files))
		}
		msg, err := tb.StageMessage(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(msg), stagedRefMagic) || len(msg) > 1000 {
			t.Fatalf("message %.80q (%d bytes), want a reference", msg, len(msg))
		}
		msgs = append(msgs, msg)
		staged = append(staged, st)
	}
	var back []Staged
	for _, m := range msgs {
		s, err := tb.ReadStaged(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, s)
	}
	res, err := tb.CommitStaged(ctx, back)
	if err != nil || res.Batches != 2 || res.Files != len(staged[0].Files)+len(staged[1].Files) {
		t.Fatalf("%+v %v", res, err)
	}
	checkTable(t, tb, rows)

	tbl, _ := tb.Load(ctx)
	loc := strings.TrimPrefix(string(msgs[0]), stagedRefMagic)
	other := strings.TrimPrefix(string(msgs[1]), stagedRefMagic)
	copyTo := func(to string) {
		b, err := os.ReadFile(localPath(t, other))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(localPath(t, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	forged := strings.Replace(loc, "ref-", "ref2-", 1)
	copyTo(forged) // another batch's content under this name
	for name, c := range map[string]struct{ ref, want string }{
		"outside the folder": {tbl.Location() + "/metadata/x.json.gz", "must name a file of"},
		"dot-dot":            {tbl.Location() + "/staged/../metadata/x.json.gz", "must name a file of"},
		"another table":      {"file:///etc/passwd", "must name a file of"},
		"missing":            {tbl.Location() + "/staged/nothing.json.gz", "nothing.json.gz"},
		"another batch's":    {forged, "holds batch"},
	} {
		if _, err := tb.ReadStaged(ctx, []byte(stagedRefMagic+c.ref)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

// TestStagedAge: a staged batch's age is its files' (a retry that finds
// them in place inherits it), the committer refuses a batch whose files
// are older than Options.MaxStagedAge (the orphan sweep may be removing
// them) or that says it was staged in the future, and landing the batch
// again, as the refusal says, writes old files afresh, so it commits.
func TestStagedAge(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())
	rows := genRows(t, 500, 60)
	bs := batches("age", rows, 250)
	age := func(s Staged, d time.Duration) {
		old := time.Now().Add(-d)
		for _, f := range s.Files {
			if err := os.Chtimes(localPath(t, f.Path), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := stage(t, tb, bs[0]) // its handoff failed
	age(first, 5*time.Hour)
	retry := stage(t, tb, bs[0])
	if d := time.Since(time.UnixMilli(retry.StagedAt)); d < 5*time.Hour-time.Minute {
		t.Fatalf("a retry 5 hours later: StagedAt %s ago, want the files' age", d.Round(time.Second))
	}
	waited := retry
	waited.StagedAt = time.Now().Add(-DefaultMaxStagedAge - time.Hour).UnixMilli() // a message that waited a day
	future := stage(t, tb, bs[1])
	future.StagedAt = time.Now().Add(time.Hour).UnixMilli()
	res, err := tb.CommitStaged(ctx, []Staged{waited, future})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Results[0].Err; e == nil || !strings.Contains(e.Error(), "land the batch again") {
		t.Errorf("files older than the bound: %v", e)
	}
	if e := res.Results[1].Err; e == nil || !strings.Contains(e.Error(), "in the future") {
		t.Errorf("a batch from the future: %v", e)
	}
	if res.SnapshotID != 0 {
		t.Fatalf("committed %+v", res)
	}
	// Landed again a day later, as the refusal says: the old files are
	// written afresh, and the batch commits.
	age(first, DefaultMaxStagedAge+time.Hour)
	again := stage(t, tb, bs[0])
	if d := time.Since(time.UnixMilli(again.StagedAt)); d > time.Minute {
		t.Fatalf("landed again: StagedAt %s ago, want now (old files rewritten)", d.Round(time.Second))
	}
	if res, err := tb.CommitStaged(ctx, []Staged{again}); err != nil || res.Batches != 1 {
		t.Fatalf("landed again: %+v %v", res, err)
	}
	// Without a bound (a table opened so), the waited message commits: its
	// files are there (checked, as it is old).
	loose, err := Open(ctx, Options{Warehouse: localPath(t, strings.TrimSuffix(tableLocation(t, tb), "/eventlake.db/events")), MaxStagedAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	w2 := stage(t, tb, bs[1])
	w2.StagedAt = time.Now().Add(-DefaultMaxStagedAge - time.Hour).UnixMilli()
	if res, err := loose.CommitStaged(ctx, []Staged{w2}); err != nil || res.Batches != 1 {
		t.Fatalf("no bound: %+v %v", res, err)
	}
}

// tableLocation is the table's location.
func tableLocation(t testing.TB, tb *Table) string {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl.Location()
}

// TestStagedAliasIdentity: positions may hold '-', so two identities can
// name the same data files ("a-b"/"c" and "a"/"b-c"). A staged batch under
// the other identity is the same batch: it commits nothing more, whichever
// comes first, alone or in one call, and Commit finds it too.
func TestStagedAliasIdentity(t *testing.T) {
	ctx := context.Background()
	rows := genRows(t, 300, 61)
	b := Batch{Source: "shardId-000000000001", First: "111", Last: "222", Rows: rows}
	alias := func(s Staged) Staged {
		s.Source, s.First = "shardId", "000000000001-111"
		return s
	}
	for _, order := range []string{"true first", "alias first", "one call"} {
		t.Run(order, func(t *testing.T) {
			tb := open(t, t.TempDir())
			st := stage(t, tb, b)
			var calls [][]Staged
			switch order {
			case "true first":
				calls = [][]Staged{{st}, {alias(st)}}
			case "alias first":
				calls = [][]Staged{{alias(st)}, {st}}
			default:
				calls = [][]Staged{{st, alias(st)}}
			}
			batches := 0
			for _, c := range calls {
				res, err := tb.CommitStaged(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res.Results {
					if r.Err != nil {
						t.Fatalf("%s: %v", r.Batch, r.Err)
					}
				}
				batches += res.Batches
			}
			if batches != 1 {
				t.Fatalf("%d batches committed, want 1", batches)
			}
			if r := commit(t, tb, b); !r.AlreadyCommitted {
				t.Fatalf("Commit of the batch: %+v", r)
			}
			checkTable(t, tb, rows)
		})
	}
}

// TestFindBatches: identity.find (the batch index) finds batches
// committed directly, in a multi-batch snapshot, and remembered after
// their snapshots expired, each with the snapshot that added it; a batch
// not in the table is not found; the same positions with another hash are
// ErrConflictingBatch; another identity naming the same files is the
// batch; entries of a summary or property it cannot read are skipped.
func TestFindBatches(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())
	rows := genRows(t, 2000, 62)
	bs := batches("idx-a", rows, 250)
	want := map[string]int64{} // batch -> the snapshot that added it
	for _, b := range bs[:2] {
		want[b.ID()] = commit(t, tb, b).SnapshotID
	}
	var st []Staged
	for _, b := range bs[2:5] {
		st = append(st, stage(t, tb, b))
	}
	res, err := tb.CommitStaged(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs[2:5] {
		want[b.ID()] = res.SnapshotID
	}
	compactTable(t, tb, CompactOptions{})
	time.Sleep(3 * time.Millisecond)
	if _, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1}); err != nil {
		t.Fatal(err)
	}
	want[bs[5].ID()] = commit(t, tb, bs[5]).SnapshotID
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		id := identity{source: b.Source, first: b.First, last: b.Last, hash: hashRows(b.Rows)}
		other := id
		other.hash++
		alias := id
		alias.source, alias.first = "idx", "a-"+id.first
		snap, in := want[b.ID()]
		for _, c := range []struct {
			what     string
			id       identity
			found    bool
			conflict bool
		}{{"the batch", id, in, false}, {"another hash", other, false, in}, {"an alias", alias, in, false}} {
			var r Result
			found, err := c.id.find(tbl, &r)
			if found != c.found || errors.Is(err, ErrConflictingBatch) != c.conflict || (found && r.SnapshotID != snap) {
				t.Errorf("%s, %s: found %v (snapshot %d, want %d), %v; want found %v, conflict %v", b.ID(), c.what, found, r.SnapshotID, snap, err, c.found, c.conflict)
			}
		}
	}
	// Entries no eventlake writes (a hand-edited property) are skipped.
	junk := indexBatches(tbl)
	for _, e := range stagedEntries("mal/1/2//5,x/1,,/a/b/c", 9) {
		t.Errorf("a malformed entry was read: %+v", e)
	}
	if len(junk) != len(want) {
		t.Errorf("the index holds %d names, the table %d batches", len(junk), len(want))
	}
}

// receive takes a staged batch from the queue and whatever else waits
// there, up to max, as an SQS event source's batch does; nil once the
// queue is closed and empty.
func receive(queue <-chan Staged, max int) []Staged {
	st, ok := <-queue
	if !ok {
		return nil
	}
	got := []Staged{st}
	for len(got) < max {
		select {
		case st, ok := <-queue:
			if !ok {
				return got
			}
			got = append(got, st)
		default:
			return got
		}
	}
	return got
}

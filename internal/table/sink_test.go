package table

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	lakefolder "github.com/eventlake/eventlake/internal/lake/folder"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// The check lives here, not in sink.go: the table is a sink below the
// pipeline and does not import it.
var _ pipeline.Sink = (*Sink)(nil)

// sinkInput is a generated input and what landing it must give, worked out
// from the generator's labels.
type sinkInput struct {
	input      []byte
	rows       []lake.Row              // the good events, enriched, once each
	bad        map[string]event.Reason // original line -> reason
	reasons    map[event.Reason]int64
	badN, dups int64
}

func genInput(t testing.TB, opts gen.Options) sinkInput {
	t.Helper()
	x := sinkInput{bad: map[string]event.Reason{}, reasons: map[event.Reason]int64{}}
	enr := event.NewEnricher(nil)
	var in bytes.Buffer
	var line []byte
	err := gen.Each(opts, func(raw []byte, k gen.Kind) error {
		in.Write(raw)
		in.WriteByte('\n')
		switch {
		case k.Dup:
			x.dups++
		case k.Reason != "":
			x.bad[string(raw)] = k.Reason
			x.reasons[k.Reason]++
			x.badN++
		default:
			var info event.Info
			var err error
			if line, info, err = enr.Enrich(line[:0], raw); err != nil {
				return fmt.Errorf("generated event %q: %w", raw, err)
			}
			x.rows = append(x.rows, lake.RowOf(info, line))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	x.input = in.Bytes()
	return x
}

// newSink returns a Sink into tb whose dead letters go to a folder of
// their own (under _dead_letters/), and that folder.
func newSink(t testing.TB, tb *Table) (*Sink, *lakefolder.Store) {
	t.Helper()
	ds, err := lakefolder.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(ds, &lake.WriterOptions{Compression: lake.None})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(tb, w)
	if err != nil {
		t.Fatal(err)
	}
	return s, ds
}

func runSink(t testing.TB, s pipeline.Sink, cfg pipeline.Config, input []byte) (pipeline.Stats, error) {
	t.Helper()
	r, err := pipeline.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background(), bytes.NewReader(input))
}

// deadLetters reads the dead-letter store: its records (each checked to be
// in the folder of its reason), objects and bytes.
func deadLetters(t testing.TB, ds *lakefolder.Store) (recs []deadletter.Record, objects int, size int64) {
	t.Helper()
	ctx := context.Background()
	for ent, err := range ds.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ent.Key, lake.DeadLetterPrefix) {
			t.Fatalf("%s in the dead-letter store, outside %s", ent.Key, lake.DeadLetterPrefix)
		}
		objects++
		size += ent.Size
		body, err := lake.ReadAll(ctx, ds, ent.Key)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			r, err := deadletter.Parse(line)
			if err != nil {
				t.Fatalf("%s: %v", ent.Key, err)
			}
			if !strings.HasPrefix(ent.Key, lake.DeadLetterPrefix+lake.DeadLetterDir(r.Reason)) {
				t.Fatalf("dead letter of reason %s in %s", r.Reason, ent.Key)
			}
			recs = append(recs, r)
		}
	}
	return recs, objects, size
}

// tableFiles counts the data files of the table's current snapshot and
// their bytes, and its snapshots.
func tableFiles(t testing.TB, tb *Table) (files int, size int64, snapshots int) {
	t.Helper()
	ctx := context.Background()
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.CurrentSnapshot() == nil {
		return 0, 0, 0
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		files++
		size += task.File.FileSizeBytes()
	}
	return files, size, len(tbl.Metadata().Snapshots())
}

func checkIdentity(t *testing.T, st pipeline.Stats) {
	t.Helper()
	if st.In != st.Written+st.AlreadyPresent+st.DeadLetters+st.Duplicates+st.Unwritten {
		t.Errorf("counts do not add up: in %d != written %d + present %d + dead %d + dups %d + unwritten %d",
			st.In, st.Written, st.AlreadyPresent, st.DeadLetters, st.Duplicates, st.Unwritten)
	}
}

// TestSinkRun lands a generated input with bad events and duplicates
// through pipeline.Runner into the table: every good event once in the
// table, typed, in its partition; every bad one a dead letter with its
// reason and bytes; the counts true, object by object (bytes out are the
// data files' and the dead letters'); and a re-run commits nothing.
func TestSinkRun(t *testing.T) {
	opts := gen.Options{Events: 20000, Seed: 21, Bad: 0.03, Dup: 0.03}
	x := genInput(t, opts)
	tb := open(t, t.TempDir())
	s, ds := newSink(t, tb)
	// Small batches and chunks: duplicates across batches and chunk edges.
	cfg := pipeline.Config{Source: "events.jsonl", Batch: pipeline.BatchPolicy{Events: 6000}, ChunkSize: 64 << 10}
	st, err := runSink(t, s, cfg, x.input)
	if err != nil {
		t.Fatal(err)
	}
	if st.In != int64(opts.Events) || st.Written != int64(len(x.rows)) || st.DeadLetters != x.badN ||
		st.Duplicates != x.dups || st.Unwritten != 0 || st.AlreadyPresent != 0 || st.ObjectsFailed != 0 {
		t.Fatalf("stats %+v; want in %d, written %d, dead %d, dups %d", st, opts.Events, len(x.rows), x.badN, x.dups)
	}
	checkIdentity(t, st)
	for r, n := range x.reasons {
		if st.DeadByReason[r] != n {
			t.Errorf("dead letters %s: %d, want %d", r, st.DeadByReason[r], n)
		}
	}
	checkTable(t, tb, x.rows)

	dead, deadObjects, deadBytes := deadLetters(t, ds)
	if int64(len(dead)) != x.badN {
		t.Fatalf("%d dead letters stored, want %d", len(dead), x.badN)
	}
	for _, d := range dead {
		if want, ok := x.bad[string(d.Original())]; !ok || event.Reason(d.Reason) != want {
			t.Fatalf("dead letter %q: reason %s, want %q", d.Original(), d.Reason, want)
		}
	}
	files, dataBytes, snaps := tableFiles(t, tb)
	if snaps != int(st.Batches) || st.Batches != 4 {
		t.Fatalf("%d snapshots for %d batches, want 4 of each", snaps, st.Batches)
	}
	// The daily layout and the daily table partition alike: one data file
	// per partition object, each counted once with its size.
	if st.Objects != int64(files+deadObjects) || st.BytesOut != dataBytes+deadBytes {
		t.Fatalf("stats say %d objects, %d bytes; the table has %d files (%d bytes), the dead letters %d objects (%d bytes)",
			st.Objects, st.BytesOut, files, dataBytes, deadObjects, deadBytes)
	}

	again, err := runSink(t, s, cfg, x.input)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != 0 || again.AlreadyPresent != st.Written || again.DeadLetters != st.DeadLetters ||
		again.Objects != 0 || again.ObjectsPresent != st.Objects || again.BytesOut != 0 {
		t.Fatalf("re-run: %+v; want nothing written, %d present", again, st.Written)
	}
	checkIdentity(t, again)
	if f, _, n := tableFiles(t, tb); n != snaps || f != files {
		t.Fatalf("re-run: %d snapshots, %d files; want %d and %d", n, f, snaps, files)
	}
	checkTable(t, tb, x.rows)
}

// TestSinkCommitFailure: when a batch cannot be committed (a data file
// cannot be written: a plain file stands where its partition folder goes),
// every event object of the batch is failed, the run stops with an error,
// nothing is committed, and the counts still add up. With the obstacle
// gone, a re-run lands every event once.
func TestSinkCommitFailure(t *testing.T) {
	x := genInput(t, gen.Options{Events: 6000, Seed: 22, Bad: 0.03, Dup: 0.03})
	tb := open(t, t.TempDir())
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(localPath(t, tbl.Location()), "data")
	block := filepath.Join(data, Segment(ColType, x.rows[0].EventType))
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(block, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, ds := newSink(t, tb)
	cfg := pipeline.Config{Source: "events.jsonl", Batch: pipeline.BatchPolicy{Events: 2000}}
	st, err := runSink(t, s, cfg, x.input)
	if err == nil {
		t.Fatal("the run succeeded, want the commit's error")
	}
	t.Logf("run error: %v", err)
	_, deadObjects, _ := deadLetters(t, ds)
	// The first batch failed as a whole; the run stopped after it.
	if st.Written != 0 || st.ObjectsFailed == 0 || st.Unwritten != st.In-st.DeadLetters-st.Duplicates ||
		st.Objects != int64(deadObjects) || st.BytesOut == 0 {
		t.Fatalf("stats after a failed commit: %+v (%d dead-letter objects stored)", st, deadObjects)
	}
	checkIdentity(t, st)
	if _, _, n := tableFiles(t, tb); n != 0 {
		t.Fatalf("%d snapshots after a failed commit", n)
	}

	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	again, err := runSink(t, s, cfg, x.input)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != int64(len(x.rows)) || again.DeadLetters != x.badN || again.ObjectsFailed != 0 {
		t.Fatalf("re-run: %+v; want %d written, %d dead letters", again, len(x.rows), x.badN)
	}
	checkIdentity(t, again)
	checkTable(t, tb, x.rows)
}

// TestSinkLand lands one delivered batch (plain records, no KPL) through
// pipeline.Land: hostile event types stay below the table's location and
// read back as sent, a type whose lake folder name would pass 255 bytes is
// a dead letter like any bad event, the same batch again commits nothing;
// a table that cannot commit fails every record holding an event.
func TestSinkLand(t *testing.T) {
	ctx := context.Background()
	ev := func(uuid, name string) []byte {
		return fmt.Appendf(nil, `{"event_uuid":"%s","event_name":"%s","created_at":1710670530,"p":"é"}`, uuid, name)
	}
	recs := []pipeline.Record{
		{Data: ev("l1", "pay:done"), Source: "shardId-1:100"},
		{Data: ev("l2", "../..:x"), Source: "shardId-1:101"},
		{Data: ev("l3", "a/b:c"), Source: "shardId-1:102"},
		{Data: ev("l4", "/../../../../../../tmp/evil:x"), Source: "shardId-1:103"},
		// The lake folder event_type=%25%25… is 255 bytes: the longest
		// accepted; one '%' more and it is partition_too_long.
		{Data: ev("l5", strings.Repeat("%", 81)+"a:x"), Source: "shardId-1:104"},
		{Data: ev("l6", strings.Repeat("%", 82)+":x"), Source: "shardId-1:105"},
		{Data: ev("l7", "%2F..%2F:x"), Source: "shardId-1:106"},
		{Data: []byte("not json"), Source: "shardId-1:107"},
		{Data: ev("l1", "pay:done"), Source: "shardId-1:108"}, // a redelivery
	}
	var want []lake.Row
	enr := event.NewEnricher(nil)
	for _, i := range []int{0, 1, 2, 3, 4, 6} {
		line, info, err := enr.Enrich(nil, recs[i].Data)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, lake.RowOf(info, line))
	}
	name := lake.Name{Source: "shardId-1", First: "100", Last: "108"}

	wh := t.TempDir()
	tb := open(t, wh)
	s, ds := newSink(t, tb)
	res, err := pipeline.Land(ctx, s, name, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	if st.In != 9 || st.Written != 6 || st.Duplicates != 1 || st.DeadLetters != 2 || len(res.Failed) != 0 ||
		st.DeadByReason[event.ReasonInvalidJSON] != 1 || st.DeadByReason[event.ReasonPartitionTooLong] != 1 {
		t.Fatalf("stats %+v, failed %v", st, res.Failed)
	}
	checkIdentity(t, st)
	checkTable(t, tb, want)
	tbl, _ := tb.Load(ctx)
	loc := localPath(t, tbl.Location())
	walkWarehouse(t, wh, loc)
	for _, o := range res.Objects {
		if !o.Dead && !strings.HasPrefix(localPath(t, o.Key), loc+string(filepath.Separator)) {
			t.Fatalf("object %s: data file %s outside the table %s", o.Dir, o.Key, loc)
		}
	}
	dead, _, _ := deadLetters(t, ds)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters stored, want 2", len(dead))
	}

	again, err := pipeline.Land(ctx, s, name, recs, nil)
	if err != nil || again.Stats.Written != 0 || again.Stats.AlreadyPresent != 6 || again.Stats.Objects != 0 {
		t.Fatalf("the same batch again: %+v, %v", again.Stats, err)
	}
	if _, _, n := tableFiles(t, tb); n != 1 {
		t.Fatalf("%d snapshots, want 1", n)
	}

	closed, err := Open(ctx, Options{Warehouse: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	cs, _ := newSink(t, closed)
	failed, err := pipeline.Land(ctx, cs, name, recs, nil)
	if err == nil {
		t.Fatal("Land into a closed table succeeded")
	}
	if fmt.Sprint(failed.Failed) != "[0 1 2 3 4 6]" || failed.Stats.Unwritten != 6 || failed.Stats.Written != 0 {
		t.Fatalf("closed table: failed records %v, stats %+v", failed.Failed, failed.Stats)
	}
	checkIdentity(t, failed.Stats)
}

// TestReadRows: each object's rows land in its place, in order, with its
// owner; an object holding more or fewer events than it says is an error.
func TestReadRows(t *testing.T) {
	rows := genRows(t, 30, 5)
	body := func(rs []lake.Row) [][]byte {
		var b []byte
		for _, r := range rs {
			b = append(append(b, r.Event...), '\n')
		}
		return [][]byte{b[:len(b)/2], b[len(b)/2:]} // a line spans the two pieces
	}
	objs := []lake.Object{
		{Dir: "a", Events: 10, Body: body(rows[:10])},
		{Dir: "dead", Dead: true},
		{Dir: "b", Events: 20, Body: body(rows[10:])},
	}
	got, owner, err := readRows(lake.Name{Source: "s", First: "1", Last: "30"}, objs, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) || len(owner) != len(rows) {
		t.Fatalf("%d rows, %d owners, want %d", len(got), len(owner), len(rows))
	}
	for i, r := range got {
		w := rows[i]
		if r.EventUUID != w.EventUUID || r.Event != w.Event || r.EventName != w.EventName || !r.CreatedDatetime.Equal(w.CreatedDatetime) {
			t.Fatalf("row %d: %+v, want %+v", i, r, w)
		}
		if want := map[bool]int{true: 0, false: 2}[i < 10]; owner[i] != want {
			t.Fatalf("row %d: owner %d, want %d", i, owner[i], want)
		}
	}
	for _, says := range []int{19, 21} {
		objs[2].Events = says
		if _, _, err := readRows(lake.Name{Source: "s"}, objs, []int{0, 2}); err == nil || !strings.Contains(err.Error(), "20 events, it says") {
			t.Fatalf("an object of 20 events that says %d: %v", says, err)
		}
	}
}

package table

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/lake"
)

// withDuplicates lands rows in batches of size and then a replay: a batch
// of another source holding copies of every seventh row (the same events
// delivered again). It returns the batches, in commit order, and how many
// copies the replay holds.
func withDuplicates(rows []lake.Row, size int) ([]Batch, int) {
	bs := batches("land", rows, size)
	var replay []lake.Row
	for i := 0; i < len(rows); i += 7 {
		replay = append(replay, rows[i])
	}
	return append(bs, Batch{Source: "replay", First: "1", Last: lake.LineNumber(int64(len(replay))), Rows: replay}), len(replay)
}

// ofTypes keeps the rows of the first n event types met, for tests that
// want few partitions.
func ofTypes(rows []lake.Row, n int) []lake.Row {
	keep := map[string]bool{}
	var out []lake.Row
	for _, r := range rows {
		if !keep[r.EventType] && len(keep) < n {
			keep[r.EventType] = true
		}
		if keep[r.EventType] {
			out = append(out, r)
		}
	}
	return out
}

func compactTable(t testing.TB, tb *Table, opts CompactOptions) CompactResult {
	t.Helper()
	res, err := tb.Compact(context.Background(), opts)
	if err != nil {
		t.Fatalf("compact: %v (%+v)", err, res)
	}
	return res
}

// partitionRows counts each event_uuid per partition folder in the
// current snapshot, and checks each data file is sorted by
// created_datetime.
func partitionRows(t testing.TB, tb *Table) map[string]map[string]int {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for _, f := range scanFiles(t, tb) {
		folder, err := partitionFolder(tbl, f.partition)
		if err != nil {
			t.Fatal(err)
		}
		if out[folder] == nil {
			out[folder] = map[string]int{}
		}
		for i, r := range f.rows {
			out[folder][r.EventUUID]++
			if i > 0 && r.CreatedDatetime.Before(f.rows[i-1].CreatedDatetime) {
				t.Fatalf("%s: row %d is older than row %d", f.path, i, i-1)
			}
		}
	}
	return out
}

// TestCompactRoundTrip: duplicates across batches leave one copy, every
// other event stays exactly once with every column, one file per
// partition, sorted; the commit is an overwrite naming the round; a second
// run finds nothing to do; later appends are compacted with the output.
func TestCompactRoundTrip(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	rows := genRows(t, 3000, 11)
	bs, copies := withDuplicates(rows, 500)
	// A copy that differs (same event_uuid and created_datetime, another
	// body) in a later batch: the first committed copy must win.
	changed := rows[3]
	changed.Event = `{"changed":true}`
	bs = append(bs, Batch{Source: "changed", First: "1", Last: "1", Rows: []lake.Row{changed}})
	copies++
	for _, b := range bs {
		commit(t, tb, b)
	}
	before, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nBefore, err := liveFiles(context.Background(), before, before.CurrentSnapshot())
	if err != nil {
		t.Fatal(err)
	}

	res := compactTable(t, tb, CompactOptions{})
	t.Logf("%d partitions: %d files -> %d, %d events in, %d kept, %d duplicates, %d -> %d bytes",
		res.Partitions, res.FilesBefore, res.FilesAfter, res.EventsIn, res.Events, res.Duplicates, res.BytesBefore, res.BytesAfter)
	if res.Committed != res.Partitions || res.Failed+res.Dropped+res.Already != 0 {
		t.Fatalf("rounds: %+v", res)
	}
	if res.Events != int64(len(rows)) || res.Duplicates != int64(copies) || res.EventsIn != int64(len(rows)+copies) {
		t.Fatalf("events: %d kept, %d duplicates, %d in; want %d, %d, %d", res.Events, res.Duplicates, res.EventsIn, len(rows), copies, len(rows)+copies)
	}
	if res.Written != res.FilesAfter || res.FilesAfter != res.Partitions {
		t.Fatalf("files: %d written, %d after, %d partitions", res.Written, res.FilesAfter, res.Partitions)
	}
	checkTable(t, tb, rows) // rows[3] with its first body
	for folder, uuids := range partitionRows(t, tb) {
		for id, n := range uuids {
			if n != 1 {
				t.Fatalf("%s: %s %d times", folder, id, n)
			}
		}
	}
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, err := liveFiles(context.Background(), tbl, tbl.CurrentSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) >= len(nBefore) || len(after) != len(partitionRows(t, tb)) {
		t.Fatalf("%d files before, %d after, want one per partition", len(nBefore), len(after))
	}
	for _, f := range after {
		if !strings.Contains(f.file.FilePath(), "/compacted.") {
			t.Fatalf("uncompacted file left: %s", f.file.FilePath())
		}
	}
	// The run is one overwrite naming its rounds.
	s := tbl.CurrentSnapshot()
	if s.Summary.Operation != itable.OpOverwrite || len(strings.Split(s.Summary.Properties[PropCompactionRounds], ",")) != res.Committed {
		t.Fatalf("compaction snapshot %d: %s, rounds %q; want an overwrite naming %d rounds",
			s.SnapshotID, s.Summary.Operation, s.Summary.Properties[PropCompactionRounds], res.Committed)
	}
	if p := tbl.SnapshotByID(*s.ParentSnapshotID); p.Summary.Properties[PropCompaction] != "" {
		t.Fatalf("two compaction snapshots for one run")
	}

	if again := compactTable(t, tb, CompactOptions{}); again.Partitions != 0 {
		t.Fatalf("second run: %+v", again)
	}
	// New events and a replay of old ones, compacted with the outputs.
	more := genRows(t, 500, 12)
	commit(t, tb, Batch{Source: "more", First: "1", Last: "500", Rows: more})
	commit(t, tb, Batch{Source: "replay2", First: "1", Last: "100", Rows: rows[:100]})
	res = compactTable(t, tb, CompactOptions{})
	if res.Duplicates != 100 || res.Committed == 0 {
		t.Fatalf("third run: %+v", res)
	}
	checkTable(t, tb, append(slices.Clone(rows), more...))
}

// TestCompactTargetSize: a small target cuts several files per partition,
// and files at least the target are left alone while their events still
// win over later copies. (A file is cut once its written and compressed
// bytes reach the target: pages flush at 1 MiB, so a partition needs a few
// thousand events for a second file.)
func TestCompactTargetSize(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := ofTypes(genRows(t, 60000, 13), 1)
	bs, copies := withDuplicates(rows, 500)
	for _, b := range bs {
		commit(t, tb, b)
	}
	opts := CompactOptions{TargetSize: 100 << 10, ChunkRows: 1000}
	res := compactTable(t, tb, opts)
	t.Logf("%d events in %d partitions: %d files -> %d", len(rows), res.Partitions, res.FilesBefore, res.FilesAfter)
	if res.FilesAfter <= res.Partitions || res.Duplicates != int64(copies) {
		t.Fatalf("want several files per partition and %d duplicates: %+v", copies, res.RoundResult)
	}
	checkTable(t, tb, rows)
	// A replay of old events after, in two batches: merged with the small
	// outputs only; the copies in kept (full-size) files win.
	commit(t, tb, Batch{Source: "late", First: "1", Last: "100", Rows: rows[:100]})
	commit(t, tb, Batch{Source: "late", First: "101", Last: "200", Rows: rows[100:200]})
	res = compactTable(t, tb, opts)
	if res.Kept == 0 || res.Duplicates != 200 {
		t.Fatalf("want kept files and 200 duplicates: %+v", res.RoundResult)
	}
	checkTable(t, tb, rows)
}

// TestCompactMergeBy: a run whose MergeBy passes during its first merge
// commits that partition, the one with the most small files, and defers
// the others; the runs after it merge the rest, one each, and leave the
// events an uninterrupted run leaves; a MergeBy already past merges and
// commits nothing.
func TestCompactMergeBy(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := ofTypes(genRows(t, 6000, 21), 3)
	for _, b := range batches("land", rows, 300) {
		commit(t, tb, b)
	}
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int{} // partition folder -> data files
	most := 0
	for _, f := range scanFiles(t, tb) {
		folder, err := partitionFolder(tbl, f.partition)
		if err != nil {
			t.Fatal(err)
		}
		files[folder]++
		most = max(most, files[folder])
	}
	want := partitionRows(t, tb)
	snaps := func() int {
		tbl, err := tb.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(tbl.Metadata().Snapshots())
	}

	before := snaps()
	res := compactTable(t, tb, CompactOptions{MergeBy: time.Now().Add(-time.Second)})
	if res.Partitions < 3 || res.Deferred != res.Partitions || res.Committed != 0 || snaps() != before {
		t.Fatalf("MergeBy past: %+v, %d -> %d snapshots; want every partition (3 or more) deferred, no commit", res, before, snaps())
	}
	total := res.Partitions

	for run := 1; ; run++ {
		// A clock that passes MergeBy as the first merge ends.
		mergeBy := time.Unix(1000, 0)
		clock := mergeBy.Add(-time.Second)
		res := compactTable(t, tb, CompactOptions{
			Concurrency: 1, MergeBy: mergeBy,
			Merged: func(RoundResult) { clock = mergeBy },
			now:    func() time.Time { return clock },
		})
		if res.Partitions == 0 {
			if run != total+1 {
				t.Errorf("%d runs merged the %d partitions", run-1, total)
			}
			break
		}
		if run > total {
			t.Fatalf("run %d: still %d partitions to merge (%d at the start)", run, res.Partitions, total)
		}
		if res.Committed != 1 || res.Deferred != res.Partitions-1 {
			t.Fatalf("run %d: %+v; want one partition committed, the others deferred", run, res)
		}
		if p := res.Rounds[0].Partition; run == 1 && files[p] != most {
			t.Errorf("the first run merged %s (%d files); the biggest backlog has %d", p, files[p], most)
		}
	}
	if got := partitionRows(t, tb); !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("after the deferred runs the partitions hold other events")
	}
}

// TestCompactCrash crashes compaction, expiry and the orphan sweep before
// each step that changes the store (and just after each commit landed),
// checks that a reader of the current snapshot then sees each partition
// either as before or as after its round, and that running everything
// again ends with exactly the table and files of an uninterrupted run.
func TestCompactCrash(t *testing.T) {
	rows := ofTypes(genRows(t, 1500, 21), 1) // two partitions (days)
	bs, _ := withDuplicates(rows, 50)
	build := func() (*Table, string) {
		wh := t.TempDir()
		tb := open(t, wh)
		for _, b := range bs {
			commit(t, tb, b)
		}
		return tb, wh
	}
	var steps []string
	record := func(s string) error { steps = append(steps, s); return nil }
	maintain := func(tb *Table, hook func(string) error) error {
		ctx := context.Background()
		if _, err := tb.Compact(ctx, CompactOptions{Concurrency: 1, step: hook}); err != nil { // steps in order
			return err
		}
		time.Sleep(3 * time.Millisecond) // snapshots must be older than 1 ms to expire
		if _, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1, step: hook}); err != nil {
			return err
		}
		_, err := tb.DeleteOrphans(ctx, OrphanOptions{OlderThan: time.Nanosecond, step: hook})
		return err
	}

	clean, cleanWh := build()
	beforeRows := partitionRows(t, clean)
	if err := maintain(clean, record); err != nil {
		t.Fatal(err)
	}
	afterRows := partitionRows(t, clean)
	wantFiles := tableFileNames(t, clean, cleanWh)
	checkTable(t, clean, rows)
	t.Logf("%d steps: %s", len(steps), strings.Join(steps, ", "))
	if len(steps) < 10 {
		t.Fatalf("only %d steps recorded", len(steps))
	}

	crash := errors.New("crash")
	for k, at := range steps {
		tb, wh := build()
		n := 0
		err := maintain(tb, func(s string) error {
			if n == k {
				return crash
			}
			n++
			return nil
		})
		if !errors.Is(err, crash) {
			t.Fatalf("crash before step %d (%s): %v", k, at, err)
		}
		// A reader of the current snapshot: each partition as before or
		// as after its round, never in between.
		for folder, got := range partitionRows(t, tb) {
			if !maps.Equal(got, beforeRows[folder]) && !maps.Equal(got, afterRows[folder]) {
				t.Fatalf("crash before %s: partition %s is neither as before nor as after", at, folder)
			}
		}
		if err := maintain(tb, nil); err != nil {
			t.Fatalf("run after a crash before %s: %v", at, err)
		}
		checkTable(t, tb, rows)
		if got := tableFileNames(t, tb, wh); !slices.Equal(got, wantFiles) {
			t.Fatalf("crash before %s: files after the re-run differ from a clean run's:\n got %v\nwant %v", at, got, wantFiles)
		}
	}
}

// tableFileNames lists the data files below the table's folder, relative,
// sorted (metadata file names hold UUIDs, so only data files compare).
func tableFileNames(t testing.TB, tb *Table, wh string) []string {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root := localPath(t, tbl.Location())
	var out []string
	err = filepath.WalkDir(filepath.Join(root, "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestCompactRetryReusesFiles: a run whose commit did not happen leaves
// files the next run finds rather than writes; a landed one is done.
func TestCompactRetryReusesFiles(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := ofTypes(genRows(t, 1200, 22), 2)
	bs, _ := withDuplicates(rows, 300)
	for _, b := range bs {
		commit(t, tb, b)
	}
	stop := errors.New("stop")
	stopAt := func(at string) func(string) error {
		return func(s string) error {
			if s == at {
				return stop
			}
			return nil
		}
	}
	// Crash before the commit: every partition's file is written.
	if _, err := tb.Compact(context.Background(), CompactOptions{step: stopAt("commit")}); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	// Again, now the commit lands but the run "dies" before it hears so.
	res, err := tb.Compact(context.Background(), CompactOptions{step: stopAt("committed")})
	if !errors.Is(err, stop) || res.Committed == 0 || res.Written != 0 || res.FilesAfter != res.Committed {
		t.Fatalf("second run: %v, %+v; want every file found, not written", err, res)
	}
	if again := compactTable(t, tb, CompactOptions{}); again.Partitions != 0 {
		t.Fatalf("third run: %+v", again)
	}
	checkTable(t, tb, rows)
}

// TestCompactDropsStolenRound: a round whose input another compaction
// replaced first commits nothing.
func TestCompactDropsStolenRound(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	rows := ofTypes(genRows(t, 900, 23), 1)
	bs, _ := withDuplicates(rows, 300)
	for _, b := range bs {
		commit(t, tb, b)
	}
	other := open(t, wh)
	var inner CompactResult
	res, err := tb.Compact(context.Background(), CompactOptions{TargetSize: 1 << 30, Concurrency: 1, step: func(s string) error {
		if strings.HasPrefix(s, "write ") && inner.Partitions == 0 {
			var err error
			inner, err = other.Compact(context.Background(), CompactOptions{}) // another plan: another id
			return err
		}
		return nil
	}})
	if err != nil || res.Partitions != 2 || res.Dropped != 2 || inner.Committed != 2 {
		t.Fatalf("outer %+v (%v), inner %+v", res, err, inner)
	}
	checkTable(t, tb, rows)
}

// TestCompactConcurrent: 4 writers commit batches (some holding copies of
// other batches' events), one compactor compacts again and again, one
// reader scans again and again. Every scan sees each event of the batches
// its snapshot holds at least once and at most as often as it was landed,
// and nothing else; every commit succeeds; the end is each event once.
func TestCompactConcurrent(t *testing.T) {
	wh := t.TempDir()
	rows := genRows(t, 4000, 31)
	bs := batches("conc", rows, 250) // 16 batches, 4 per writer
	// Each writer also replays 50 events of another writer's first batch.
	for w := range 4 {
		src := bs[(w+1)%4].Rows[:50]
		bs = append(bs, Batch{Source: fmt.Sprintf("replay%d", w), First: "1", Last: "50", Rows: src})
	}
	byID := map[string]*Batch{}
	for i := range bs {
		byID[bs[i].ID()] = &bs[i]
	}
	tb := open(t, wh)
	var (
		wg       sync.WaitGroup
		writing  atomic.Int32
		attempts atomic.Int64
		scans    atomic.Int64
		rounds   CompactResult
	)
	writing.Store(4)
	for w := range 4 {
		mine := []Batch{bs[w], bs[w+4], bs[16+w], bs[w+8], bs[w+12]}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Add(-1)
			wtb, err := Open(context.Background(), Options{Warehouse: wh})
			if err != nil {
				t.Error(err)
				return
			}
			defer wtb.Close()
			for _, b := range mine {
				res, err := wtb.Commit(context.Background(), b)
				if err != nil {
					t.Errorf("commit %s: %v", b.ID(), err)
					return
				}
				attempts.Add(int64(res.Attempts))
			}
		}()
	}
	wg.Add(2)
	go func() { // the compactor
		defer wg.Done()
		ctb, err := Open(context.Background(), Options{Warehouse: wh})
		if err != nil {
			t.Error(err)
			return
		}
		defer ctb.Close()
		for done := false; !done; {
			done = writing.Load() == 0 // a last run after the writers
			res, err := ctb.Compact(context.Background(), CompactOptions{})
			if err != nil {
				t.Errorf("compact: %v", err)
				return
			}
			rounds.Committed += res.Committed
			rounds.Dropped += res.Dropped
			rounds.Duplicates += res.Duplicates
			rounds.Attempts += res.Attempts
		}
	}()
	go func() { // the reader
		defer wg.Done()
		for writing.Load() > 0 && !t.Failed() {
			checkScan(t, tb, byID)
			scans.Add(1)
		}
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d batches committed in %d attempts; %d compaction rounds (%d commit attempts, %d dropped, %d duplicates removed); %d scans checked",
		len(bs), attempts.Load(), rounds.Committed, rounds.Attempts, rounds.Dropped, rounds.Duplicates, scans.Load())
	checkScan(t, tb, byID)
	res := compactTable(t, tb, CompactOptions{})
	t.Logf("final compaction: %+v", res.RoundResult)
	checkTable(t, tb, rows)
}

// checkScan scans the current snapshot and checks it against the batches
// its ancestry names: each of their events at least once and at most as
// often as they hold it, no other event.
func checkScan(t *testing.T, tb *Table, byID map[string]*Batch) {
	t.Helper()
	ctx := context.Background()
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	want := map[string]int{}
	for s := tbl.CurrentSnapshot(); s != nil; {
		if id := s.Summary.Properties[PropBatch]; id != "" {
			b := byID[id]
			if b == nil {
				t.Errorf("snapshot %d names an unknown batch %s", s.SnapshotID, id)
				return
			}
			for _, r := range b.Rows {
				want[r.EventUUID]++
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	got := map[string]int{}
	scan := tbl.Scan()
	_, recs, err := scan.ToArrowRecords(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	for rec, err := range recs {
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range rowsOf(t, rec) {
			got[r.EventUUID]++
		}
		rec.Release()
	}
	for id, n := range got {
		if n > want[id] {
			t.Errorf("snapshot %d: event %s read %d times, landed %d times", tbl.CurrentSnapshot().SnapshotID, id, n, want[id])
			return
		}
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("snapshot %d: event %s missing", tbl.CurrentSnapshot().SnapshotID, id)
			return
		}
	}
}

// TestCompactGroups: with more small files than MaxInputs, a partition is
// merged in groups: duplicates across groups still go (the earlier group's
// copy wins), each group writes its own files, and the next run merges
// them into one.
func TestCompactGroups(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := ofTypes(genRows(t, 3000, 71), 2)
	bs, copies := withDuplicates(rows, 40)
	for _, b := range bs {
		commit(t, tb, b)
	}
	res := compactTable(t, tb, CompactOptions{MaxInputs: 2, GroupBytes: -1})
	if res.Duplicates != int64(copies) || res.FilesAfter <= res.Partitions {
		t.Fatalf("grouped run: want %d duplicates and several files per partition: %+v", copies, res.RoundResult)
	}
	checkTable(t, tb, rows)
	res = compactTable(t, tb, CompactOptions{})
	if res.Duplicates != 0 || res.FilesAfter != res.Partitions {
		t.Fatalf("second run: %+v", res.RoundResult)
	}
	checkTable(t, tb, rows)
}

// TestCompactGroupBytes: small files beyond MaxInputs join a group while
// the bytes it holds stay within GroupBytes, so a partition of many small
// files becomes one file in one run; a GroupBytes below two files' size
// leaves groups of MaxInputs.
func TestCompactGroupBytes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		groupBytes int64
		onePerPart bool
	}{
		{"default", 0, true},
		{"tiny", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := open(t, t.TempDir())
			rows := ofTypes(genRows(t, 3000, 72), 2)
			bs, copies := withDuplicates(rows, 40)
			for _, b := range bs {
				commit(t, tb, b)
			}
			res := compactTable(t, tb, CompactOptions{MaxInputs: 2, GroupBytes: tc.groupBytes})
			if res.Duplicates != int64(copies) {
				t.Fatalf("want %d duplicates dropped: %+v", copies, res.RoundResult)
			}
			if got := res.FilesAfter == res.Partitions; got != tc.onePerPart {
				t.Fatalf("one file per partition: %v, want %v (%d inputs in %d partitions, %d outputs)", got, tc.onePerPart, res.FilesBefore, res.Partitions, res.FilesAfter)
			}
			if res.FilesBefore <= 2*res.Partitions {
				t.Fatalf("want more than MaxInputs files per partition: %+v", res.RoundResult)
			}
			checkTable(t, tb, rows)
		})
	}
}

// TestGroups: groups' cuts on inputs of given rows and stored bytes: any
// inputs up to MaxInputs; beyond, small ones (at most ChunkRows rows)
// while their bytes fit GroupBytes; never a big one beyond MaxInputs
// (its reader holds a whole column chunk, which its size does not say).
func TestGroups(t *testing.T) {
	in := func(rows, size int64) input {
		b, err := iceberg.NewDataFileBuilder(*iceberg.UnpartitionedSpec, iceberg.EntryContentData,
			fmt.Sprintf("f-%d-%d.parquet", rows, size), iceberg.ParquetFile, nil, nil, nil, rows, size)
		if err != nil {
			t.Fatal(err)
		}
		return input{file: b.Build()}
	}
	small, big := in(100, 10), in(100_000, 10)
	for _, c := range []struct {
		name       string
		inputs     []input
		maxInputs  int
		groupBytes int64
		want       string
	}{
		{"none", nil, 2, 100, "[]"},
		{"one", []input{small}, 2, 100, "[[0 1]]"},
		{"small files beyond MaxInputs", []input{small, small, small, small}, 2, 100, "[[0 4]]"},
		{"up to GroupBytes", []input{small, small, small, small}, 2, 30, "[[0 3] [3 4]]"},
		{"exactly GroupBytes", []input{small, small, small, small}, 2, 40, "[[0 4]]"},
		{"off", []input{small, small, small, small, small}, 2, -1, "[[0 2] [2 4] [4 5]]"},
		{"big beyond MaxInputs", []input{small, small, big, small}, 2, 1000, "[[0 2] [2 4]]"},
		{"big within MaxInputs", []input{big, big, small, small}, 2, 1000, "[[0 4]]"},
		{"MaxInputs 1", []input{small, small, small}, 1, 1000, "[[0 3]]"},
	} {
		got := fmt.Sprint(groups(c.inputs, CompactOptions{ChunkRows: 8192, MaxInputs: c.maxInputs, GroupBytes: c.groupBytes}))
		if got != c.want {
			t.Errorf("%s: groups = %s, want %s", c.name, got, c.want)
		}
	}
}

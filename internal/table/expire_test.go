package table

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestExpireKeepsExactlyOnce: batches whose snapshots expired are still
// recognised (from the table property), a changed one is still refused,
// and the list is bounded.
func TestExpireKeepsExactlyOnce(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())
	rows := genRows(t, 1500, 41)
	bs := batches("exp", rows, 500)
	ids := map[string]int64{}
	for _, b := range bs {
		ids[b.ID()] = commit(t, tb, b).SnapshotID
	}
	compactTable(t, tb, CompactOptions{}) // the head is now the compaction: every batch's snapshot can expire
	time.Sleep(3 * time.Millisecond)
	res, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 3 || res.Remembered != 3 || len(tbl.Metadata().Snapshots()) != 1 {
		t.Fatalf("expire: %+v, %d snapshots left", res, len(tbl.Metadata().Snapshots()))
	}
	for _, b := range bs {
		again := commit(t, tb, b)
		if !again.AlreadyCommitted || again.SnapshotID != ids[b.ID()] {
			t.Fatalf("batch %s after expiry: %+v, want already committed by snapshot %d", b.ID(), again, ids[b.ID()])
		}
	}
	changed := bs[1]
	changed.Rows = slices.Clone(changed.Rows)
	changed.Rows[0].Event = `{"other":1}`
	if _, err := tb.Commit(ctx, changed); !errors.Is(err, ErrConflictingBatch) {
		t.Fatalf("changed batch after expiry: %v, want ErrConflictingBatch", err)
	}
	checkTable(t, tb, rows)

	// Bounded: remember 4 of 6 expired batches; the oldest two are
	// forgotten (a replay of them would land again: the window's end).
	more := genRows(t, 1000, 42)
	for _, b := range batches("exp2", more, 200) {
		commit(t, tb, b)
	}
	time.Sleep(3 * time.Millisecond)
	res, err = tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1, RememberBatches: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 4 || res.Remembered != 4 || res.Forgotten != 3 {
		t.Fatalf("bounded expire: %+v", res)
	}
	tbl, _ = tb.Load(ctx)
	list := tbl.Properties()[PropExpiredBatches]
	if strings.Contains(list, "exp/") || !strings.Contains(list, "exp2/0000000201/0000000400/") {
		t.Fatalf("remembered: %s", list)
	}
	// The newest batch is the head, never expired: found in the history.
	last := batches("exp2", more, 200)[4]
	if r := commit(t, tb, last); !r.AlreadyCommitted {
		t.Fatalf("head batch: %+v", r)
	}
	checkTable(t, tb, append(slices.Clone(rows), more...))
}

// TestDeleteOrphans: only unreferenced files older than the grace period
// go; every file the table references stays and the table reads whole.
func TestDeleteOrphans(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	tb := open(t, wh)
	rows := ofTypes(genRows(t, 2000, 51), 3)
	bs, _ := withDuplicates(rows, 400)
	for _, b := range bs {
		commit(t, tb, b)
	}
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := liveFiles(ctx, tbl, tbl.CurrentSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	root := localPath(t, tbl.Location())
	stray := filepath.Join(root, "data", "event_type=x", "stray.parquet")
	young := filepath.Join(root, "data", "event_type=x", "young.parquet")
	tmp := filepath.Join(root, "data", "event_type=x", "a.parquet.tmp-0123")
	for _, p := range []string{stray, young, tmp} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compactTable(t, tb, CompactOptions{})
	time.Sleep(3 * time.Millisecond)
	if _, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1}); err != nil {
		t.Fatal(err)
	}
	// Nothing is old yet: nothing goes.
	res, err := tb.DeleteOrphans(ctx, OrphanOptions{OlderThan: time.Hour})
	if err != nil || len(res.Deleted) != 0 || res.Young == 0 {
		t.Fatalf("fresh files: %+v, %v", res, err)
	}
	// Age everything but young by two hours.
	old := time.Now().Add(-2 * time.Hour)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == young {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	dry, err := tb.DeleteOrphans(ctx, OrphanOptions{OlderThan: time.Hour, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err = tb.DeleteOrphans(ctx, OrphanOptions{OlderThan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Deleted, res.Deleted) {
		t.Fatalf("dry run listed %v, the run deleted %v", dry.Deleted, res.Deleted)
	}
	// The data files deleted are exactly the compaction's inputs and the
	// stray files.
	var gotData, wantData []string
	for _, rel := range res.Deleted {
		if strings.HasPrefix(rel, "data/") {
			gotData = append(gotData, rel)
		}
	}
	for _, in := range inputs {
		wantData = append(wantData, strings.TrimPrefix(localPath(t, in.file.FilePath()), root+"/"))
	}
	wantData = append(wantData, "data/event_type=x/a.parquet.tmp-0123", "data/event_type=x/stray.parquet")
	slices.Sort(wantData)
	if !slices.Equal(gotData, wantData) {
		t.Fatalf("deleted data files:\n got %v\nwant %v", gotData, wantData)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("young file: %v", err)
	}
	// Every file the table references is still there, and it reads whole.
	tbl, _ = tb.Load(ctx)
	refs := newReferenced()
	fsys, _ := tbl.FS(ctx)
	if err := refs.add(ctx, tbl, fsys); err != nil {
		t.Fatal(err)
	}
	for p := range refs.paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("referenced file gone: %v", err)
		}
	}
	checkTable(t, tb, rows)
	// The table still commits and compacts.
	more := genRows(t, 300, 52)
	commit(t, tb, Batch{Source: "after", First: "1", Last: "300", Rows: more})
	compactTable(t, tb, CompactOptions{})
	checkTable(t, tb, append(slices.Clone(rows), more...))
}

// TestExpireConcurrent: two writers commit while an expirer expires every
// snapshot but the head again and again; afterwards every batch committed
// again is found (in the history or the property), and each event is in
// the table once.
func TestExpireConcurrent(t *testing.T) {
	wh := t.TempDir()
	rows := genRows(t, 1600, 43)
	bs := batches("expc", rows, 100) // 16 batches, 8 per writer
	var (
		wg      sync.WaitGroup
		writing atomic.Int32
		expired atomic.Int64
	)
	// Each has its own catalog connections, opened before any commit
	// (an Open beside commits once failed with SQLITE_BUSY under -race).
	writers := []*Table{open(t, wh), open(t, wh)}
	expirer := open(t, wh)
	writing.Store(2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Add(-1)
			tb := writers[w]
			for i := w; i < len(bs); i += 2 {
				if _, err := tb.Commit(context.Background(), bs[i]); err != nil {
					t.Errorf("commit %s: %v", bs[i].ID(), err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for writing.Load() > 0 {
			time.Sleep(2 * time.Millisecond)
			res, err := expirer.ExpireSnapshots(context.Background(), ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1})
			if err != nil {
				t.Errorf("expire: %v", err)
				return
			}
			expired.Add(int64(res.Expired))
		}
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	tb := open(t, wh)
	for _, b := range bs {
		if r := commit(t, tb, b); !r.AlreadyCommitted {
			t.Fatalf("batch %s committed again after expiry: %+v", b.ID(), r)
		}
	}
	t.Logf("%d snapshots expired while 16 batches were committed", expired.Load())
	checkTable(t, tb, rows)
}

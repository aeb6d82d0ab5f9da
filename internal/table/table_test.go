package table

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// genRows enriches n generated events (no bad ones, no repeats) into rows,
// as the landing path does.
func genRows(t testing.TB, n int, seed uint64) []lake.Row {
	t.Helper()
	enr := event.NewEnricher(nil)
	rows := make([]lake.Row, 0, n)
	var line []byte
	err := gen.Each(gen.Options{Events: n, Seed: seed}, func(raw []byte, k gen.Kind) error {
		var info event.Info
		var err error
		line, info, err = enr.Enrich(line[:0], raw)
		if err != nil {
			return fmt.Errorf("generated event %q: %w", raw, err)
		}
		rows = append(rows, lake.RowOf(info, line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// batches cuts rows into batches of size events named by line numbers.
func batches(source string, rows []lake.Row, size int) []Batch {
	var out []Batch
	for i := 0; i < len(rows); i += size {
		j := min(i+size, len(rows))
		out = append(out, Batch{Source: source, First: lake.LineNumber(int64(i + 1)),
			Last: lake.LineNumber(int64(j)), Rows: rows[i:j]})
	}
	return out
}

func open(t testing.TB, wh string) *Table {
	t.Helper()
	tb, err := Open(context.Background(), Options{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

func commit(t testing.TB, tb *Table, b Batch) Result {
	t.Helper()
	res, err := tb.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("commit %s: %v", b.ID(), err)
	}
	return res
}

// scanned is one data file of a scan: its partition and its rows.
type scanned struct {
	path      string
	partition map[int]any
	rows      []lake.Row
}

// scanFiles reads the table with iceberg-go's scan, file by file.
func scanFiles(t testing.TB, tb *Table) []scanned {
	t.Helper()
	ctx := context.Background()
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scan := tbl.Scan()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []scanned
	for _, task := range tasks {
		_, recs, err := scan.ReadTasks(ctx, []itable.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		f := scanned{path: task.File.FilePath(), partition: task.File.Partition()}
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			f.rows = append(f.rows, rowsOf(t, rec)...)
			rec.Release()
		}
		out = append(out, f)
	}
	return out
}

// rowsOf reads a scanned record batch back into rows.
func rowsOf(t testing.TB, rec arrow.RecordBatch) []lake.Row {
	t.Helper()
	rows := make([]lake.Row, rec.NumRows())
	for i, f := range rec.Schema().Fields() {
		col := rec.Column(i)
		for r := range rows {
			row := &rows[r]
			if f.Name == ColDatetime {
				ts := col.(*array.Timestamp).Value(r)
				row.CreatedDatetime = time.UnixMicro(int64(ts)).UTC()
				continue
			}
			s := col.(*array.String).Value(r)
			switch f.Name {
			case ColUUID:
				row.EventUUID = s
			case ColName:
				row.EventName = s
			case ColType:
				row.EventType = s
			case ColSubtype:
				row.EventSubtype = s
			case ColCreated:
				row.CreatedAt = s
			case ColEvent:
				row.Event = s
			default:
				t.Fatalf("unexpected column %s", f.Name)
			}
		}
	}
	return rows
}

// checkTable scans the table and checks it holds exactly want, each row
// once, with every column as written and each in the data file of its
// partition.
func checkTable(t *testing.T, tb *Table, want []lake.Row) {
	t.Helper()
	byUUID := map[string]lake.Row{}
	for _, r := range want {
		r.CreatedDatetime = r.CreatedDatetime.Truncate(time.Microsecond)
		byUUID[r.EventUUID] = r
	}
	seen := map[string]int{}
	fields := tableFields(t, tb)
	for _, f := range scanFiles(t, tb) {
		checkDataFile(t, localPath(t, f.path), fields)
		typ, ok := f.partition[1000].(string)
		if !ok {
			t.Fatalf("%s: partition %v has no event_type", f.path, f.partition)
		}
		day, ok := f.partition[1001].(iceberg.Date)
		if !ok {
			t.Fatalf("%s: partition %v has no day (%T)", f.path, f.partition, f.partition[1001])
		}
		for _, r := range f.rows {
			seen[r.EventUUID]++
			w, ok := byUUID[r.EventUUID]
			switch {
			case !ok:
				t.Fatalf("unexpected event %s", r.EventUUID)
			case !r.CreatedDatetime.Equal(w.CreatedDatetime):
				t.Fatalf("%s: created_datetime %v, want %v", r.EventUUID, r.CreatedDatetime, w.CreatedDatetime)
			case r.EventUUID != w.EventUUID || r.EventName != w.EventName || r.EventType != w.EventType ||
				r.EventSubtype != w.EventSubtype || r.CreatedAt != w.CreatedAt || r.Event != w.Event:
				t.Fatalf("row read back differs:\n got %+v\nwant %+v", r, w)
			case r.EventType != typ:
				t.Fatalf("%s: event_type %q in the partition of %q (%s)", r.EventUUID, r.EventType, typ, f.path)
			case int64(day) != r.CreatedDatetime.Unix()/86400:
				t.Fatalf("%s: created %v in the partition of day %d (%s)", r.EventUUID, r.CreatedDatetime, day, f.path)
			}
		}
	}
	for id := range byUUID {
		if seen[id] != 1 {
			t.Fatalf("event %s read %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(byUUID) {
		t.Fatalf("read %d events, want %d", len(seen), len(byUUID))
	}
}

// TestRoundTrip commits three batches of generated events to a folder
// warehouse and reads every event back once, typed, in its partition.
func TestRoundTrip(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	rows := genRows(t, 3000, 1)
	for _, b := range batches("gen-seed1", rows, 1000) {
		res := commit(t, tb, b)
		if res.AlreadyCommitted || res.SnapshotID == 0 || res.Attempts != 1 || res.Files == 0 || res.Written != res.Files {
			t.Fatalf("commit %s: %+v", b.ID(), res)
		}
	}
	checkTable(t, tb, rows)

	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.Metadata().Snapshots()); n != 3 {
		t.Fatalf("%d snapshots, want 3", n)
	}
	s := tbl.CurrentSnapshot()
	if s.Summary.Operation != itable.OpAppend || s.Summary.Properties[PropBatch] != "gen-seed1/0000002001-0000003000" {
		t.Fatalf("current snapshot summary %v", s.Summary)
	}
	// A second Open of the same warehouse finds the table, not a new one.
	tb2 := open(t, wh)
	checkTable(t, tb2, rows)
}

// TestCommitTwice: the same batch again commits nothing, from the same
// handle or from a new one (the table's history, not memory, decides),
// and writes no data file again.
func TestCommitTwice(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	rows := genRows(t, 1500, 2)
	bs := batches("twice", rows, 500)
	first := commit(t, tb, bs[0])
	commit(t, tb, bs[1])
	mtimes := dataFileTimes(t, wh)

	again := commit(t, tb, bs[0])
	if !again.AlreadyCommitted || again.SnapshotID != first.SnapshotID || again.Written != 0 || again.Attempts != 0 {
		t.Fatalf("second commit: %+v, want AlreadyCommitted in snapshot %d", again, first.SnapshotID)
	}
	other := open(t, wh)
	if res := commit(t, other, bs[1]); !res.AlreadyCommitted {
		t.Fatalf("commit from a new handle: %+v", res)
	}
	commit(t, other, bs[2])
	checkTable(t, tb, rows)
	for p, m := range mtimes {
		if got := dataFileTimes(t, wh)[p]; !got.Equal(m) {
			t.Fatalf("%s rewritten", p)
		}
	}
	tbl, _ := tb.Load(context.Background())
	if n := len(tbl.Metadata().Snapshots()); n != 3 {
		t.Fatalf("%d snapshots, want 3", n)
	}
}

// TestConflictingBatch: a batch named like a committed one but holding
// other rows is refused, not dropped silently.
func TestConflictingBatch(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := genRows(t, 200, 3)
	commit(t, tb, Batch{Source: "s", First: "1", Last: "100", Rows: rows[:100]})
	_, err := tb.Commit(context.Background(), Batch{Source: "s", First: "1", Last: "100", Rows: rows[100:]})
	if !errors.Is(err, ErrConflictingBatch) {
		t.Fatalf("got %v, want ErrConflictingBatch", err)
	}
	checkTable(t, tb, rows[:100])
}

// TestRetryReusesFiles: data files left by an attempt that never
// committed (a crash between write and commit) are found, not rewritten,
// and the batch commits once.
func TestRetryReusesFiles(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	rows := genRows(t, 800, 4)
	b := Batch{Source: "crash", First: "1", Last: "800", Rows: rows}
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := identity{source: b.Source, first: b.First, last: b.Last, hash: hashRows(b.Rows)}
	parts, err := writeFiles(context.Background(), tbl, &b, id.fileName())
	if err != nil || written(parts) != len(parts) {
		t.Fatalf("write: %d of %d files, %v", written(parts), len(parts), err)
	}
	files := dataFiles(parts)
	before := dataFileTimes(t, wh)
	res := commit(t, tb, b)
	if res.Written != 0 || res.Files != len(files) {
		t.Fatalf("commit after a crash: %+v, want every file reused", res)
	}
	for p, m := range before {
		if got := dataFileTimes(t, wh)[p]; !got.Equal(m) {
			t.Fatalf("%s rewritten", p)
		}
	}
	checkTable(t, tb, rows)
}

// TestEmptyBatch commits nothing; TestBadBatchName refuses identities that
// could not be file names.
func TestEmptyBatch(t *testing.T) {
	tb := open(t, t.TempDir())
	res := commit(t, tb, Batch{Source: "s", First: "1", Last: "1"})
	if res.SnapshotID != 0 || res.AlreadyCommitted {
		t.Fatalf("%+v", res)
	}
}

func TestBadBatchName(t *testing.T) {
	tb := open(t, t.TempDir())
	rows := genRows(t, 1, 5)
	for _, b := range []Batch{
		{Source: "", First: "1", Last: "2"},
		{Source: "a/b", First: "1", Last: "2"},
		{Source: "a.b", First: "1", Last: "2"},
		{Source: "s", First: "../1", Last: "2"},
		{Source: "s", First: "1", Last: "2%2F"},
	} {
		b.Rows = rows
		if _, err := tb.Commit(context.Background(), b); err == nil {
			t.Errorf("batch %q committed", b.ID())
		}
	}
}

// TestRefusesReplayingRetries: a table where iceberg-go would retry (and
// replay) commits itself is refused before anything is written.
func TestRefusesReplayingRetries(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(iceberg.Properties{itable.CommitNumRetriesKey: "4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = tb.Commit(ctx, Batch{Source: "s", First: "1", Last: "1", Rows: genRows(t, 1, 6)})
	if !errors.Is(err, ErrReplayEnabled) {
		t.Fatalf("got %v, want ErrReplayEnabled", err)
	}
}

// TestConcurrentCommits: four writers, each with its own catalog
// connection, commit different batches to one table while a fifth commits
// a copy of one of them. Every conflict is resolved by reloading and
// trying again; each event is in the table once.
func TestConcurrentCommits(t *testing.T) {
	wh := t.TempDir()
	rows := genRows(t, 4000, 7)
	bs := batches("conc", rows, 250) // 16 batches, 4 per writer
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		attempts  int
		already   int
		committed int
	)
	run := func(mine []Batch) {
		defer wg.Done()
		tb, err := Open(context.Background(), Options{Warehouse: wh})
		if err != nil {
			t.Error(err)
			return
		}
		defer tb.Close()
		for _, b := range mine {
			res, err := tb.Commit(context.Background(), b)
			if err != nil {
				t.Errorf("commit %s: %v", b.ID(), err)
				return
			}
			mu.Lock()
			attempts += res.Attempts
			if res.AlreadyCommitted {
				already++
			} else {
				committed++
			}
			mu.Unlock()
		}
	}
	for w := range 4 {
		wg.Add(1)
		go run([]Batch{bs[w], bs[w+4], bs[w+8], bs[w+12]})
	}
	wg.Add(1)
	go run([]Batch{bs[5], bs[6]}) // copies of batches writers 1 and 2 commit
	wg.Wait()
	if t.Failed() {
		return
	}
	if committed != 16 || already != 2 {
		t.Fatalf("%d batches committed, %d already committed; want 16 and 2", committed, already)
	}
	t.Logf("16 batches by 5 writers: %d commit attempts, %d conflicts resolved", attempts, attempts-committed)
	tb := open(t, wh)
	checkTable(t, tb, rows)
	tbl, _ := tb.Load(context.Background())
	if n := len(tbl.Metadata().Snapshots()); n != 16 {
		t.Fatalf("%d snapshots, want 16", n)
	}
}

// TestConcurrentOpen: processes that find no table create it at once;
// none fails.
func TestConcurrentOpen(t *testing.T) {
	wh := t.TempDir()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb, err := Open(context.Background(), Options{Warehouse: wh})
			if err != nil {
				t.Error(err)
				return
			}
			tb.Close()
		}()
	}
	wg.Wait()
}

// TestOpenWhileCommitting: opening the table (which sets up the SQLite
// catalog: journal mode, its tables) while other connections commit
// succeeds; SQLite's "database is locked" during that setup is waited out.
func TestOpenWhileCommitting(t *testing.T) {
	wh := t.TempDir()
	writer := open(t, wh)
	rows := genRows(t, 40, 5)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 20 {
			b := Batch{Source: "w", First: fmt.Sprint(2 * i), Last: fmt.Sprint(2*i + 1), Rows: rows[2*i : 2*i+2]}
			if _, err := writer.Commit(context.Background(), b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				tb, err := Open(context.Background(), Options{Warehouse: wh})
				if err != nil {
					t.Errorf("opener %d, open %d: %v", g, n, err)
					return
				}
				if err := tb.Close(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestHostileEventTypes: whatever an event type holds, every file lands
// below the table's location (nothing else in the warehouse but the
// catalog), and each event reads back with its own type.
func TestHostileEventTypes(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	hostile := []string{
		"../x", "a/b", "%2F", "%2F..%2F..", "/../..", "/../../../../../../tmp/evil", ".", "..", "...",
		"\x00", "a\nb", "\x7f", "tab\there", "C:\\x", "a\\..\\b", "?q#f", "Payment", "payment",
		"PAYMENT", "", " ", "~", "~x~0000000000000000", "event_type=x", "a=b/c=d", "é", strings.Repeat("é", 100),
		strings.Repeat("x", 200), strings.Repeat("%", 200), strings.Repeat("../", 60),
	}
	base := genRows(t, len(hostile), 8)
	rows := make([]lake.Row, len(hostile))
	for i, typ := range hostile {
		rows[i] = base[i]
		rows[i].EventType = typ
	}
	res := commit(t, tb, Batch{Source: "hostile", First: "1", Last: "30", Rows: rows})
	if res.Files != len(hostile) {
		t.Fatalf("%d data files for %d types", res.Files, len(hostile))
	}
	checkTable(t, tb, rows)

	tbl, _ := tb.Load(context.Background())
	loc := localPath(t, tbl.Location())
	walkWarehouse(t, wh, loc)
	for _, f := range scanFiles(t, tb) {
		p := localPath(t, f.path)
		if !strings.HasPrefix(p, loc+string(filepath.Separator)) {
			t.Fatalf("data file %s outside the table %s", p, loc)
		}
		rel, _ := filepath.Rel(loc, p)
		if n := len(strings.Split(rel, string(filepath.Separator))); n != 4 { // data/type/day/file
			t.Fatalf("data file %s is %d levels below the table, want 4", rel, n)
		}
	}
}

// walkWarehouse checks that every file in the warehouse is the catalog or
// below the table's location, and that no name holds '%'.
func walkWarehouse(t *testing.T, wh, loc string) {
	t.Helper()
	err := filepath.WalkDir(wh, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.ContainsAny(d.Name(), "%\\") {
			t.Errorf("%s: a name with escapes", p)
		}
		if d.IsDir() || strings.HasPrefix(filepath.Base(p), CatalogFile) && filepath.Dir(p) == wh {
			return nil
		}
		if !strings.HasPrefix(p, loc+string(filepath.Separator)) {
			t.Errorf("%s is outside the table %s", p, loc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func localPath(t testing.TB, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("location %q: %v", loc, err)
	}
	return filepath.FromSlash(u.Path)
}

// dataFileTimes maps each Parquet file in the warehouse to its mtime.
func dataFileTimes(t testing.TB, wh string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	filepath.WalkDir(wh, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			fi, _ := d.Info()
			out[p] = fi.ModTime()
		}
		return err
	})
	if len(out) == 0 {
		t.Fatal("no data files")
	}
	return out
}

// TestStaleBase drives the commit loop from a table state that another
// writer has since moved: the first attempt loses (the SQL catalog says
// "requirement failed", not ErrCommitFailed), the loop reloads and wins
// with the same files; and when the other writer committed the same batch,
// the loop finds it and commits nothing.
func TestStaleBase(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	tb, other := open(t, wh), open(t, wh)
	rows := genRows(t, 900, 9)
	bs := batches("stale", rows, 300)
	commit(t, tb, bs[0])
	for i, b := range bs[1:] {
		base, err := tb.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := identity{source: b.Source, first: b.First, last: b.Last, hash: hashRows(b.Rows)}
		parts, err := writeFiles(ctx, base, &b, id.fileName())
		if err != nil {
			t.Fatal(err)
		}
		files := dataFiles(parts)
		same := i == 1
		if same {
			commit(t, other, b) // a concurrent writer lands this very batch
		} else {
			commit(t, other, Batch{Source: "other", First: "1", Last: "1", Rows: genRows(t, 10, 10)})
		}
		var res Result
		if err := tb.commitFiles(ctx, base, files, id, &res); err != nil {
			t.Fatal(err)
		}
		if same && (!res.AlreadyCommitted || res.Attempts != 1) || !same && (res.AlreadyCommitted || res.Attempts != 2) {
			t.Fatalf("batch %s (committed by the other writer: %v): %+v", b.ID(), same, res)
		}
	}
	checkTable(t, tb, append(rows[:len(rows):len(rows)], genRows(t, 10, 10)...))
}

// TestWarehouse: a folder or a file:/// URL opens the same table; other
// URLs need an injected catalog.
func TestWarehouse(t *testing.T) {
	wh := t.TempDir()
	tb := open(t, wh)
	commit(t, tb, Batch{Source: "w", First: "1", Last: "1", Rows: genRows(t, 1, 12)})
	byURL := open(t, "file://"+filepath.ToSlash(wh))
	if res := commit(t, byURL, Batch{Source: "w", First: "1", Last: "1", Rows: genRows(t, 1, 12)}); !res.AlreadyCommitted {
		t.Fatalf("file:// URL opened another table: %+v", res)
	}
	for _, bad := range []string{"", "s3://bucket/prefix", "file://host/x", "file:///x?fsync=true", filepath.Join(wh, "a?b")} {
		if tb, err := Open(context.Background(), Options{Warehouse: bad}); err == nil {
			tb.Close()
			t.Errorf("warehouse %q opened", bad)
		}
	}
}

package table

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
)

// files plans a read and fails the test on an error; it returns the
// files' locations.
func files(t *testing.T, tb *Table, at At) ([]string, SnapshotInfo) {
	t.Helper()
	pfs, info := planned(t, tb, at)
	var locs []string
	for _, f := range pfs {
		locs = append(locs, f.Location)
	}
	return locs, info
}

func planned(t *testing.T, tb *Table, at At) ([]PlannedFile, SnapshotInfo) {
	t.Helper()
	pfs, info, err := tb.Files(context.Background(), at)
	if err != nil {
		t.Fatalf("%s: %v", at, err)
	}
	return pfs, info
}

// pathsOf are the data file locations of commit results, in path order.
func pathsOf(results ...Result) []string {
	var out []string
	for _, r := range results {
		for _, f := range r.DataFiles {
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}

// TestFiles: the files of the current snapshot, of a snapshot by id and of
// the snapshot current at a time are exactly the data files the batches
// committed up to it wrote; an empty table has none; a wrong id and a time
// before the first commit are errors that say so.
func TestFiles(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())

	fs, info := files(t, tb, Current())
	if len(fs) != 0 || info != (SnapshotInfo{}) {
		t.Fatalf("empty table: %v %+v, want no files, no snapshot", fs, info)
	}
	if list, err := tb.Snapshots(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty table: Snapshots %v, %v", list, err)
	}
	for _, at := range []At{SnapshotID(42), AsOf(time.Now())} {
		_, _, err := tb.Files(ctx, at)
		if !errors.Is(err, ErrNoSnapshot) && !errors.Is(err, ErrBeforeFirstSnapshot) || !strings.Contains(err.Error(), "no snapshot yet") {
			t.Errorf("empty table, %s: %v; want an error saying it has no snapshot", at, err)
		}
	}

	rows := genRows(t, 3000, 11)
	var res []Result
	for _, b := range batches("files", rows, 1000) {
		res = append(res, commit(t, tb, b))
		time.Sleep(3 * time.Millisecond) // commits a few milliseconds apart: the log's precision
	}
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var when []time.Time
	for i, r := range res {
		s := tbl.SnapshotByID(r.SnapshotID)
		if s == nil {
			t.Fatalf("batch %d: no snapshot %d", i, r.SnapshotID)
		}
		when = append(when, time.UnixMilli(s.TimestampMs))
	}

	fs, info = files(t, tb, Current())
	if !reflect.DeepEqual(fs, pathsOf(res...)) || info.ID != res[2].SnapshotID || info.Rows != 3000 || info.Files != len(fs) {
		t.Fatalf("current: %d files %+v; want the %d files of the 3 batches, 3000 rows", len(fs), info, len(pathsOf(res...)))
	}
	if info.Operation != string(itable.OpAppend) || info.Batch != "files/0000002001-0000003000" || !info.Time.Equal(when[2]) || !info.Current {
		t.Errorf("current snapshot info %+v", info)
	}
	list, err := tb.Snapshots(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("Snapshots: %d, %v; want 3", len(list), err)
	}
	for i, s := range list {
		files := pathsOf(res[:i+1]...)
		if s.ID != res[i].SnapshotID || s.Rows != int64(1000*(i+1)) || s.Files != len(files) || s.Current != (i == 2) ||
			!s.Time.Equal(when[i]) || s.Batch != batches("files", rows, 1000)[i].ID() {
			t.Errorf("Snapshots()[%d] = %+v; want snapshot %d, %d rows in %d files", i, s, res[i].SnapshotID, 1000*(i+1), len(files))
		}
	}
	if list[2].Bytes != info.Bytes {
		t.Errorf("the last snapshot's summary says %d bytes, its plan %d", list[2].Bytes, info.Bytes)
	}
	// Each file's event_type is that of its rows, from its partition.
	typeOf := map[string]string{}
	for i, r := range res {
		for _, f := range r.DataFiles {
			typeOf[f.Path] = batches("files", rows, 1000)[i].Rows[f.Rows[0]].EventType
		}
	}
	pfs, _ := planned(t, tb, Current())
	for _, f := range pfs {
		if !f.TypeKnown || f.EventType != typeOf[f.Location] || f.Rows == 0 || f.Bytes == 0 {
			t.Errorf("%s: planned as type %q (known %v), %d rows, %d bytes; its rows are %q", f.Location, f.EventType, f.TypeKnown, f.Rows, f.Bytes, typeOf[f.Location])
		}
	}
	var size int64
	for _, f := range fs {
		p, err := LocalPath(f)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("data file %s: %v", f, err)
		}
		size += st.Size()
	}
	if size != info.Bytes {
		t.Errorf("data files hold %d bytes, the plan says %d", size, info.Bytes)
	}

	for i := range res {
		want := pathsOf(res[:i+1]...)
		for _, at := range []At{SnapshotID(res[i].SnapshotID), AsOf(when[i])} {
			fs, info := files(t, tb, at)
			if !reflect.DeepEqual(fs, want) || info.ID != res[i].SnapshotID || info.Rows != int64(1000*(i+1)) {
				t.Errorf("%s: %d files, snapshot %d, %d rows; want %d files of batches 1-%d, snapshot %d", at, len(fs), info.ID, info.Rows, len(want), i+1, res[i].SnapshotID)
			}
		}
	}
	// Between the first and the second commit: the first.
	if fs, info := files(t, tb, AsOf(when[1].Add(-time.Millisecond))); info.ID != res[0].SnapshotID || !reflect.DeepEqual(fs, pathsOf(res[0])) {
		t.Errorf("just before the second commit: snapshot %d, want %d", info.ID, res[0].SnapshotID)
	}
	if _, info := files(t, tb, AsOf(when[2].Add(time.Hour))); info.ID != res[2].SnapshotID {
		t.Errorf("an hour after the last commit: snapshot %d, want %d", info.ID, res[2].SnapshotID)
	}

	_, _, err = tb.Files(ctx, AsOf(when[0].Add(-time.Millisecond)))
	if !errors.Is(err, ErrBeforeFirstSnapshot) || !strings.Contains(err.Error(), when[0].UTC().Format(time.RFC3339Nano)) {
		t.Errorf("before the first commit: %v; want ErrBeforeFirstSnapshot naming the first commit's time", err)
	}
	bad := res[0].SnapshotID + 1
	_, _, err = tb.Files(ctx, SnapshotID(bad))
	if !errors.Is(err, ErrNoSnapshot) || !strings.Contains(err.Error(), strconv.FormatInt(bad, 10)) ||
		!strings.Contains(err.Error(), strconv.FormatInt(res[2].SnapshotID, 10)) {
		t.Errorf("snapshot %d: %v; want ErrNoSnapshot naming it and the latest snapshots", bad, err)
	}
}

// TestFilesRefusesDeletes: a snapshot with row-level deletes (written here
// by iceberg-go's merge-on-read delete, as another engine could) is refused,
// not read without them; the snapshot before it still reads.
func TestFilesRefusesDeletes(t *testing.T) {
	ctx := context.Background()
	tb := open(t, t.TempDir())
	rows := genRows(t, 500, 12)
	first := commit(t, tb, Batch{Source: "del", First: "1", Last: "500", Rows: rows})
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	txn := tbl.NewTransaction()
	if err := txn.SetProperties(iceberg.Properties{itable.WriteDeleteModeKey: itable.WriteModeMergeOnRead}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Delete(ctx, iceberg.EqualTo(iceberg.Reference(ColUUID), rows[7].EventUUID), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = tb.Files(ctx, Current())
	if !errors.Is(err, ErrDeleteFiles) {
		t.Fatalf("after a merge-on-read delete: %v; want ErrDeleteFiles", err)
	}
	if fs, _ := files(t, tb, SnapshotID(first.SnapshotID)); !reflect.DeepEqual(fs, pathsOf(first)) {
		t.Errorf("the snapshot before the delete: %v, want %v", fs, pathsOf(first))
	}
}

// TestMustExist: a reader's Open creates nothing: no folder, no catalog, no
// table; a missing one is ErrNoTable.
func TestMustExist(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nothing")
	if _, err := Open(ctx, Options{Warehouse: dir, MustExist: true}); !errors.Is(err, ErrNoTable) {
		t.Errorf("no warehouse: %v, want ErrNoTable", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the reader's Open made %s (%v)", dir, err)
	}
	wh := t.TempDir()
	open(t, wh) // creates eventlake.events
	if _, err := Open(ctx, Options{Warehouse: wh, Name: "other", MustExist: true}); !errors.Is(err, ErrNoTable) {
		t.Errorf("no such table: %v, want ErrNoTable", err)
	}
	tb, err := Open(ctx, Options{Warehouse: wh, MustExist: true})
	if err != nil {
		t.Fatalf("an existing table: %v", err)
	}
	tb.Close()
}

// TestLocalPath: file:// locations and absolute paths become paths; other
// stores are refused.
func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"file:///w/eventlake.db/events/data/a.parquet":          "/w/eventlake.db/events/data/a.parquet",
		"file://localhost/w/a.parquet":                          "/w/a.parquet",
		"file:///w%20x/event_type=~a_b~0123/a.parquet":          "/w x/event_type=~a_b~0123/a.parquet",
		"/w/eventlake.db/events/data/event_type=x/../a.parquet": "/w/eventlake.db/events/data/a.parquet",
	} {
		got, err := LocalPath(in)
		if err != nil || got != filepath.FromSlash(want) {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"s3://bucket/w/a.parquet", "file://host/w/a.parquet", "file:w/a.parquet", "w/a.parquet", "file:///w/a.parquet?x=1"} {
		if got, err := LocalPath(in); err == nil {
			t.Errorf("LocalPath(%q) = %q, want an error", in, got)
		}
	}
}

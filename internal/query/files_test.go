package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// parquetFiles lists the Parquet objects of a lake folder, in path order,
// with their event type when known is set (from their event_type= folder:
// generated types are plain names).
func parquetFiles(t *testing.T, dir string, known bool) []File {
	t.Helper()
	var files []File
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, lake.ParquetExt) {
			f := File{Path: p}
			if known {
				rel, _ := filepath.Rel(dir, p)
				folder, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
				f.Type, f.TypeKnown = strings.CutPrefix(folder, "event_type=")
			}
			files = append(files, f)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Parquet objects in %s", dir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

func runFiles(t *testing.T, dir string, files []File, q string) *Result {
	t.Helper()
	res, err := RunFiles(context.Background(), dir, files, q, nil)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// TestRunFiles: the view over a list of Parquet files answers as the lake's
// view over the same objects (counts per type, per day, distinct uuids),
// with their event types known or not; its columns are the lake view's
// plus created_hour and event, and an empty list is an empty view of the
// same columns.
func TestRunFiles(t *testing.T) {
	dir := t.TempDir()
	land(t, dir, lake.Parquet, gen.Options{Events: 3000, Seed: 7})
	files := parquetFiles(t, dir, false)
	typed := parquetFiles(t, dir, true)
	for _, q := range []string{
		"SELECT count(*), count(DISTINCT event_uuid) FROM events",
		"SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1",
		"SELECT created_date, count(*) FROM events GROUP BY 1 ORDER BY 1",
		"SELECT count(*) FROM events WHERE event_type = 'payment' AND created_date = '2026-11-01'",
	} {
		want, err := Run(context.Background(), dir, q, nil)
		if err != nil {
			t.Fatalf("%s over the lake: %v", q, err)
		}
		if got := runFiles(t, dir, files, q); !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Errorf("%s: files give %v, the lake %v", q, got.Rows, want.Rows)
		}
		if got := runFiles(t, dir, typed, q); !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Errorf("%s: files of known types give %v, the lake %v", q, got.Rows, want.Rows)
		}
	}
	if fileCols, typedCols := columns(t, func(q string) (*Result, error) { return RunFiles(context.Background(), dir, files, q, nil) }),
		columns(t, func(q string) (*Result, error) { return RunFiles(context.Background(), dir, typed, q, nil) }); !reflect.DeepEqual(fileCols, typedCols) {
		t.Errorf("columns %v with types known, %v without", typedCols, fileCols)
	}

	// A known type is what the view says, without reading the column (the
	// contract: the caller knows it from the partition); a type that
	// cannot be a literal as it is is read from the file.
	one := typed[0]
	res := runFiles(t, dir, []File{{Path: one.Path, Type: "zzz", TypeKnown: true}}, "SELECT DISTINCT event_type FROM events")
	if fmt.Sprint(res.Rows) != "[[zzz]]" {
		t.Errorf("a file given as type zzz: %v", res.Rows)
	}
	res = runFiles(t, dir, []File{{Path: one.Path, Type: "a\x00b", TypeKnown: true}}, "SELECT DISTINCT event_type FROM events")
	if fmt.Sprint(res.Rows) != fmt.Sprintf("[[%s]]", one.Type) {
		t.Errorf("a file given as type a\\x00b: %v, want its own %s", res.Rows, one.Type)
	}

	// The same columns of the same types as the lake's view, plus
	// created_hour and event (JSON in the lake's objects, VARCHAR in the
	// table's files and the empty view).
	lakeCols := columns(t, func(q string) (*Result, error) { return Run(context.Background(), dir, q, nil) })
	fileCols := columns(t, func(q string) (*Result, error) { return RunFiles(context.Background(), dir, files, q, nil) })
	emptyCols := columns(t, func(q string) (*Result, error) { return RunFiles(context.Background(), dir, nil, q, nil) })
	want := append(append([]string(nil), lakeCols...), "created_hour VARCHAR", "event JSON")
	if fmt.Sprint(sorted(fileCols)) != fmt.Sprint(sorted(want)) {
		t.Errorf("columns over files %v, want the lake's %v and created_hour, event", fileCols, lakeCols)
	}
	want[len(want)-1] = "event VARCHAR"
	if fmt.Sprint(sorted(emptyCols)) != fmt.Sprint(sorted(want)) {
		t.Errorf("empty view columns %v, want %v", emptyCols, want)
	}
	res = runFiles(t, dir, nil, "SELECT count(*), count(DISTINCT event_uuid) FROM events")
	if fmt.Sprint(res.Rows) != "[[0 0]]" {
		t.Errorf("empty view: %v, want [[0 0]]", res.Rows)
	}
	if res := runFiles(t, dir, nil, "SELECT * FROM events"); len(res.Rows) != 0 {
		t.Errorf("empty view has rows %v", res.Rows)
	}
}

// columns lists the view's columns with their DuckDB types.
func columns(t *testing.T, run func(string) (*Result, error)) []string {
	t.Helper()
	res, err := run("SELECT column_name, column_type FROM (DESCRIBE events)")
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, r := range res.Rows {
		cols = append(cols, fmt.Sprint(r[0], " ", r[1]))
	}
	return cols
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// TestRunFilesRefuses: files outside the lake folder (unless unrestricted),
// relative paths and paths DuckDB would glob are refused before DuckDB
// reads anything.
func TestRunFilesRefuses(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "lake")
	land(t, dir, lake.Parquet, gen.Options{Events: 200, Seed: 8})
	files := parquetFiles(t, dir, false)
	outside := filepath.Join(base, "outside.parquet")
	if err := os.WriteFile(outside, readAll(t, files[0].Path), 0o644); err != nil {
		t.Fatal(err)
	}
	q := "SELECT count(*) FROM events"
	for _, tc := range []struct {
		files []File
		want  string
	}{
		{[]File{files[0], {Path: outside}}, "outside the lake folder"},
		{[]File{{Path: filepath.Join(dir, "..", "outside.parquet")}}, "outside the lake folder"},
		{[]File{{Path: "event_type=x/a.parquet"}}, "not an absolute path"},
		{[]File{{Path: filepath.Join(dir, "a*.parquet")}}, "glob"},
	} {
		_, err := RunFiles(context.Background(), dir, tc.files, q, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.files, err, tc.want)
		}
	}
	res, err := RunFiles(context.Background(), dir, []File{{Path: outside}}, q, &Options{Unrestricted: true})
	if err != nil || len(res.Rows) != 1 {
		t.Errorf("unrestricted, a file outside: %v %v", res, err)
	}
}

func readAll(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

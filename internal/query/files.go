package query

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// fileColumns are the columns of the Parquet data files RunFiles reads
// (lake.Row's, which an eventlake Iceberg table holds), with their DuckDB
// types: created_datetime is a UTC instant, as in the lake's Parquet
// objects.
var fileColumns = []struct{ name, typ string }{
	{"event_uuid", "VARCHAR"},
	{"event_name", "VARCHAR"},
	{"event_type", "VARCHAR"},
	{"event_subtype", "VARCHAR"},
	{"created_at", "VARCHAR"},
	{"created_datetime", "TIMESTAMPTZ"},
	{"event", "VARCHAR"},
}

// derivedColumns are the lake's partition columns, computed from
// created_datetime in UTC, so that SQL written for the lake's view
// (WHERE created_date = '2026-11-01') runs unchanged over the files.
var derivedColumns = []struct{ name, expr string }{
	{"created_date", "strftime(timezone('UTC', created_datetime), '%Y-%m-%d')"},
	{"created_hour", "strftime(timezone('UTC', created_datetime), '%H')"},
}

// File is a Parquet data file RunFiles reads. When TypeKnown, every row of
// it has the event_type Type (its Iceberg partition says so): the view
// gives DuckDB that type as a constant, so a filter on event_type skips
// the file without opening it, as folders prune the lake.
type File struct {
	Path      string
	Type      string
	TypeKnown bool
}

// FilesView is the SQL that defines the view "events" over Parquet data
// files (absolute paths) holding lake.Row's columns: event_uuid,
// event_name, event_type, event_subtype, created_at, created_datetime,
// then created_date and created_hour as the lake's view has them (strings,
// from created_datetime in UTC), then event, the whole JSON. It is a UNION
// ALL of one read_parquet per known event type (event_type a constant
// there) and one over the files of unknown type. The files are read by
// column name with hive_partitioning off: a folder such as
// event_type=~a_b~<hash> must not stand in for the event_type the file
// holds. No files make an empty view of the same columns.
func FilesView(files []File) (string, error) {
	if len(files) == 0 {
		var empty []string
		for _, c := range fileColumns {
			empty = append(empty, "NULL::"+c.typ+" AS "+c.name)
		}
		return fmt.Sprintf("CREATE VIEW events AS SELECT %s FROM (SELECT %s WHERE false);\n",
			selectList(""), strings.Join(empty, ", ")), nil
	}
	groups := map[File][]string{} // by type (Path empty)
	for _, f := range files {
		if !filepath.IsAbs(f.Path) {
			return "", fmt.Errorf("data file %q: not an absolute path", f.Path)
		}
		if strings.ContainsAny(f.Path, "*?[") {
			return "", fmt.Errorf("data file %q: DuckDB would read '*', '?' or '[' in its path as a glob", f.Path)
		}
		key := File{Type: f.Type, TypeKnown: f.TypeKnown && literalSafe(f.Type)}
		if !key.TypeKnown {
			key.Type = ""
		}
		groups[key] = append(groups[key], quoteSQL(f.Path))
	}
	keys := make([]File, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].TypeKnown != keys[j].TypeKnown {
			return keys[i].TypeKnown
		}
		return keys[i].Type < keys[j].Type
	})
	branches := make([]string, len(keys))
	for i, k := range keys {
		typ := ""
		if k.TypeKnown {
			typ = quoteSQL(k.Type)
		}
		branches[i] = fmt.Sprintf("SELECT %s\nFROM read_parquet([%s], hive_partitioning = false)", selectList(typ), strings.Join(groups[k], ",\n  "))
	}
	return "CREATE VIEW events AS\n" + strings.Join(branches, "\nUNION ALL\n") + ";\n", nil
}

// selectList is the view's columns over a file's, with event_type the
// SQL literal typ when it is not empty.
func selectList(typ string) string {
	var sel []string
	for _, c := range fileColumns[:len(fileColumns)-1] {
		if c.name == "event_type" && typ != "" {
			sel = append(sel, typ+" AS event_type")
			continue
		}
		sel = append(sel, c.name)
	}
	for _, d := range derivedColumns {
		sel = append(sel, d.expr+" AS "+d.name)
	}
	return strings.Join(append(sel, fileColumns[len(fileColumns)-1].name), ", ")
}

// literalSafe says whether s can be a SQL string literal as it is: no
// control bytes (a NUL would end it), valid UTF-8.
func literalSafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// RunFiles runs q, as Run does, over the view "events" of Parquet data
// files (FilesView): the data files of an Iceberg snapshot, which must lie
// below the folder dir unless opts.Unrestricted (the locked-down query
// reads only below dir). No files, an empty table, give an empty view.
func RunFiles(ctx context.Context, dir string, files []File, q string, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	root, err := lakeRoot(dir)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	inside := make([]File, len(files))
	for i, f := range files {
		inside[i] = f
		if !filepath.IsAbs(f.Path) {
			return nil, fmt.Errorf("data file %q: not an absolute path", f.Path)
		}
		if p, ok := below(abs, root, f.Path); ok {
			inside[i].Path = p
		} else if !opts.Unrestricted {
			return nil, fmt.Errorf("data file %s is outside the lake folder %s, the one folder the query may read", f.Path, dir)
		}
	}
	view, err := FilesView(inside)
	if err != nil {
		return nil, err
	}
	return run(ctx, root, view, q, opts)
}

// below says whether the absolute path f lies below the folder abs (as
// given) or root (abs with links resolved), and returns it below root:
// DuckDB compares what it opens with the allowed folder, root.
func below(abs, root, f string) (string, bool) {
	for _, dir := range []string{root, abs} {
		rel, err := filepath.Rel(dir, filepath.Clean(f))
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return filepath.Join(root, rel), true
		}
	}
	return "", false
}

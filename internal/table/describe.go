package table

import (
	"context"
	"sort"
	"strconv"
	"strings"
)

// Summary is what a table holds, for people: its current snapshot's rows,
// data files and bytes, how many snapshots it has, and the data files per
// event_type partition folder.
type Summary struct {
	Name      string // namespace.name
	Snapshots int
	Rows      int64
	Files     int
	Bytes     int64
	// Types are the event_type partition folders (as on disk, see Segment)
	// with their data files, in folder order.
	Types []TypeFiles
	// FirstFile is the path of one data file (the first in path order).
	FirstFile string
}

// TypeFiles is one event_type partition folder and its data files.
type TypeFiles struct {
	Folder string
	Files  int
}

// Describe summarises the table's current snapshot.
func (t *Table) Describe(ctx context.Context) (Summary, error) {
	s := Summary{Name: t.name()}
	tbl, err := t.Load(ctx)
	if err != nil {
		return s, err
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return s, nil
	}
	s.Snapshots = len(tbl.Metadata().Snapshots())
	if snap.Summary != nil {
		s.Rows, _ = strconv.ParseInt(snap.Summary.Properties["total-records"], 10, 64)
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return s, err
	}
	perType := map[string]int{}
	var paths []string
	for _, task := range tasks {
		p := task.File.FilePath()
		paths = append(paths, p)
		s.Files++
		s.Bytes += task.File.FileSizeBytes()
		if _, rest, ok := strings.Cut(p, "/data/"); ok {
			folder, _, _ := strings.Cut(rest, "/")
			perType[folder]++
		}
	}
	sort.Strings(paths)
	if len(paths) > 0 {
		s.FirstFile = paths[0]
	}
	for f, n := range perType {
		s.Types = append(s.Types, TypeFiles{Folder: f, Files: n})
	}
	sort.Slice(s.Types, func(i, j int) bool { return s.Types[i].Folder < s.Types[j].Folder })
	return s, nil
}

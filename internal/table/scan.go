package table

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
)

// Reading the table: which data files hold the rows of a snapshot, for a
// reader that opens the Parquet files itself (eventlake query --iceberg
// hands them to DuckDB). docs/iceberg.md, "Reading the table".

// At selects the snapshot a read sees: the current one (the zero value),
// one by id (SnapshotID) or the one that was current at a time (AsOf).
type At struct {
	id    int64
	byID  bool
	asOf  time.Time
	byAge bool
}

// Current is the table's current snapshot.
func Current() At { return At{} }

// SnapshotID is the snapshot with this id.
func SnapshotID(id int64) At { return At{id: id, byID: true} }

// AsOf is the snapshot that was the table's current one at t, from the
// table's snapshot log (millisecond precision; a snapshot committed at t
// counts).
func AsOf(t time.Time) At { return At{asOf: t, byAge: true} }

func (a At) String() string {
	switch {
	case a.byID:
		return "snapshot " + strconv.FormatInt(a.id, 10)
	case a.byAge:
		return "as of " + a.asOf.UTC().Format(time.RFC3339Nano)
	default:
		return "current snapshot"
	}
}

// SnapshotInfo describes the snapshot a read sees.
type SnapshotInfo struct {
	// ID is the snapshot's id; 0 when the table has no snapshot yet (it is
	// empty and a read of its current state sees no rows).
	ID int64
	// Time is when it was committed.
	Time time.Time
	// Operation is its summary's operation: append, replace, overwrite
	// or delete.
	Operation string
	// Batch is the batch it committed (PropBatch), for snapshots
	// eventlake committed.
	Batch string
	// Files, Rows and Bytes are its data files, their records and bytes.
	Files int
	Rows  int64
	Bytes int64
	// Current: it is the table's current snapshot.
	Current bool
}

// PlannedFile is one data file of a read.
type PlannedFile struct {
	// Location is where it is, as the manifest names it (a file:// URL in
	// a folder warehouse; LocalPath makes it a path).
	Location string
	// EventType is the event_type of every row in it, when TypeKnown: its
	// partition spec has identity(event_type), whose value is the column's.
	EventType string
	TypeKnown bool
	// Rows and Bytes are its records and size.
	Rows, Bytes int64
}

var (
	// ErrNoSnapshot: the snapshot asked for is not in the table (a wrong
	// id, or one expired since).
	ErrNoSnapshot = errors.New("table: no such snapshot")
	// ErrBeforeFirstSnapshot: no snapshot was current at the time asked
	// for: it is before the table's first commit, or the table has none.
	ErrBeforeFirstSnapshot = errors.New("table: no snapshot was current at that time")
	// ErrDeleteFiles: the snapshot has delete files (row-level deletes
	// written by another engine). eventlake never writes them and its
	// readers do not apply them, so they refuse rather than count
	// deleted rows.
	ErrDeleteFiles = errors.New("table: the snapshot has delete files, which eventlake's readers do not apply")
	// ErrNotParquet: a data file is not Parquet.
	ErrNotParquet = errors.New("table: a data file is not Parquet")
)

// Files plans a read of the snapshot at selects: the data files that hold
// its rows, in location order, and what that snapshot is. The
// plan is iceberg-go's (the snapshot's manifest list and manifests). A
// table with no snapshot gives no files and a zero SnapshotInfo for
// Current, ErrNoSnapshot or ErrBeforeFirstSnapshot otherwise. A snapshot
// whose plan carries delete files is refused (ErrDeleteFiles): the files
// alone would give rows that were deleted.
func (t *Table) Files(ctx context.Context, at At) ([]PlannedFile, SnapshotInfo, error) {
	tbl, err := t.Load(ctx)
	if err != nil {
		return nil, SnapshotInfo{}, err
	}
	snap, err := resolve(tbl.Metadata(), at)
	if err != nil || snap == nil {
		return nil, SnapshotInfo{}, err
	}
	cur := tbl.CurrentSnapshot()
	info := SnapshotInfo{ID: snap.SnapshotID, Time: time.UnixMilli(snap.TimestampMs).UTC(), Current: cur != nil && cur.SnapshotID == snap.SnapshotID}
	if snap.Summary != nil {
		info.Operation = string(snap.Summary.Operation)
		info.Batch = snap.Summary.Properties[PropBatch]
	}
	tasks, err := tbl.Scan(itable.WithSnapshotID(snap.SnapshotID)).PlanFiles(ctx)
	if err != nil {
		return nil, info, fmt.Errorf("table: plan a read of snapshot %d: %w", snap.SnapshotID, err)
	}
	files, err := dataFilesOf(tbl.Metadata(), tasks, &info)
	return files, info, err
}

// Snapshots lists the table's snapshots, oldest first (by sequence
// number), for time travel: Files, Rows and Bytes are the totals their
// summaries record. A table with no snapshot gives none.
func (t *Table) Snapshots(ctx context.Context) ([]SnapshotInfo, error) {
	tbl, err := t.Load(ctx)
	if err != nil {
		return nil, err
	}
	snaps := append([]itable.Snapshot(nil), tbl.Metadata().Snapshots()...)
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].SequenceNumber < snaps[j].SequenceNumber })
	cur := tbl.CurrentSnapshot()
	out := make([]SnapshotInfo, len(snaps))
	for i, s := range snaps {
		info := SnapshotInfo{ID: s.SnapshotID, Time: time.UnixMilli(s.TimestampMs).UTC(), Current: cur != nil && cur.SnapshotID == s.SnapshotID}
		if s.Summary != nil {
			p := s.Summary.Properties
			info.Operation, info.Batch = string(s.Summary.Operation), p[PropBatch]
			files, _ := strconv.Atoi(p["total-data-files"])
			info.Files = files
			info.Rows, _ = strconv.ParseInt(p["total-records"], 10, 64)
			info.Bytes, _ = strconv.ParseInt(p["total-files-size"], 10, 64)
		}
		out[i] = info
	}
	return out, nil
}

// dataFilesOf checks the planned tasks and returns their data files, once
// each, in location order, counting them into info.
func dataFilesOf(md itable.Metadata, tasks []itable.FileScanTask, info *SnapshotInfo) ([]PlannedFile, error) {
	seen := map[string]bool{}
	var files []PlannedFile
	for _, task := range tasks {
		f := task.File
		if n := len(task.DeleteFiles) + len(task.EqualityDeleteFiles) + len(task.DeletionVectorFiles); n > 0 {
			return nil, fmt.Errorf("%w: snapshot %d: %d delete files apply to %s", ErrDeleteFiles, info.ID, n, f.FilePath())
		}
		if f.ContentType() != iceberg.EntryContentData {
			return nil, fmt.Errorf("%w: snapshot %d: %s holds %s", ErrDeleteFiles, info.ID, f.FilePath(), f.ContentType())
		}
		if f.FileFormat() != iceberg.ParquetFile {
			return nil, fmt.Errorf("%w: snapshot %d: %s is %s", ErrNotParquet, info.ID, f.FilePath(), f.FileFormat())
		}
		if seen[f.FilePath()] { // a file split into several tasks
			continue
		}
		seen[f.FilePath()] = true
		pf := PlannedFile{Location: f.FilePath(), Rows: f.Count(), Bytes: f.FileSizeBytes()}
		pf.EventType, pf.TypeKnown = eventTypeOf(md, f)
		files = append(files, pf)
		info.Files++
		info.Rows += f.Count()
		info.Bytes += f.FileSizeBytes()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Location < files[j].Location })
	return files, nil
}

// eventTypeOf is the event_type of every row of f, if its partition spec
// has identity(event_type).
func eventTypeOf(md itable.Metadata, f iceberg.DataFile) (string, bool) {
	spec := md.PartitionSpecByID(int(f.SpecID()))
	col, ok := md.CurrentSchema().FindFieldByName(ColType)
	if spec == nil || !ok {
		return "", false
	}
	for _, pf := range spec.Fields() {
		if _, identity := pf.Transform.(iceberg.IdentityTransform); identity && len(pf.SourceIDs) == 1 && pf.SourceIDs[0] == col.ID {
			v, ok := f.Partition()[pf.FieldID].(string)
			return v, ok
		}
	}
	return "", false
}

// resolve finds the snapshot at selects; nil (and no error) for the
// current snapshot of a table that has none.
func resolve(md itable.Metadata, at At) (*itable.Snapshot, error) {
	switch {
	case at.byID:
		if s := md.SnapshotByID(at.id); s != nil {
			return s, nil
		}
		return nil, fmt.Errorf("%w: %d is not a snapshot of the table; %s", ErrNoSnapshot, at.id, recent(md))
	case at.byAge:
		return asOf(md, at.asOf)
	default:
		return md.CurrentSnapshot(), nil
	}
}

// asOf is the snapshot current at t: the last entry of the snapshot log
// (the main branch's history, in commit order) committed at or before t.
func asOf(md itable.Metadata, t time.Time) (*itable.Snapshot, error) {
	ms := t.UnixMilli()
	var (
		found   bool
		entry   itable.SnapshotLogEntry
		all     int
		firstMs int64
	)
	for e := range md.SnapshotLogs() {
		if all == 0 {
			firstMs = e.TimestampMs
		}
		all++
		if e.TimestampMs <= ms {
			found, entry = true, e
		}
	}
	when := t.UTC().Format(time.RFC3339Nano)
	switch {
	case all == 0:
		return nil, fmt.Errorf("%w: %s: the table has no snapshot yet", ErrBeforeFirstSnapshot, when)
	case !found:
		return nil, fmt.Errorf("%w: %s is before the table's first snapshot, committed at %s",
			ErrBeforeFirstSnapshot, when, time.UnixMilli(firstMs).UTC().Format(time.RFC3339Nano))
	}
	s := md.SnapshotByID(entry.SnapshotID)
	if s == nil {
		return nil, fmt.Errorf("%w: snapshot %d, current at %s, has been expired; %s", ErrNoSnapshot, entry.SnapshotID, when, recent(md))
	}
	return s, nil
}

// recent names the table's latest snapshots, for an error message.
func recent(md itable.Metadata) string {
	snaps := md.Snapshots()
	if len(snaps) == 0 {
		return "the table has no snapshot yet"
	}
	snaps = append([]itable.Snapshot(nil), snaps...)
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].TimestampMs < snaps[j].TimestampMs })
	var b strings.Builder
	fmt.Fprintf(&b, "the table has %d snapshots", len(snaps))
	from := max(0, len(snaps)-3)
	if from > 0 {
		b.WriteString(", the latest")
	}
	for i, s := range snaps[from:] {
		sep := ": "
		if i > 0 {
			sep = ", "
		}
		fmt.Fprintf(&b, "%s%d (%s)", sep, s.SnapshotID, time.UnixMilli(s.TimestampMs).UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// LocalPath is the file path of a data file location of a folder
// warehouse: a file:// URL (how the table names its files) or an absolute
// path. Locations of other stores (s3://...) are refused.
func LocalPath(location string) (string, error) {
	if filepath.IsAbs(location) && !strings.Contains(location, "://") {
		return filepath.Clean(location), nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("table: data file location %q: %w", location, err)
	}
	if u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("table: data file location %q is not a local file (file:///path)", location)
	}
	// iceberg-go opens file:// locations by their decoded path, as here.
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("table: data file location %q is not an absolute path", location)
	}
	return filepath.Clean(p), nil
}

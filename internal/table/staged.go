package table

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/retry"
)

// One committer per table (issue 12, point 2, at 1000x). Every Commit
// rewrites the table's one catalog row: N writers committing at once retry
// O(N²) times, and hundreds of shards committing every batch would spend
// their time losing. So a writer may stage instead: Stage writes the
// batch's data files, as Commit does, and returns a Staged, the batch's
// identity and each file's manifest entry (its statistics, as iceberg-go
// derives them from the file's footer), which the writer hands to the
// table's one committer (an SQS queue drained by a function with little
// concurrency). The committer's CommitStaged commits many staged batches
// in one snapshot whose summary names them all (PropBatches), with
// Commit's rules: a batch already in the table (or named twice) commits
// nothing, a conflict reloads the table, looks for the batches again and
// retries with the same files. The descriptions let the committer add
// each file exactly as Commit would, without reading it back.

// PropBatches names the batches of a snapshot that committed more than one
// (CommitStaged): "source/first/last/hash" entries separated by ','.
// Sources and positions hold no '/' or ','. PropBatch then reads
// "<n> batches".
const PropBatches = "eventlake.batches"

// VerifyStagedAfter: CommitStaged checks that each data file of a batch
// staged longer ago than this is still there, whole. Until committed,
// staged files are orphans, which DeleteOrphans removes once older than
// its grace (24 h by default; Options.MaxStagedAge keeps batches well
// below it): a snapshot must never name a file that is gone. Younger
// batches are not checked: a check is a request per file.
const VerifyStagedAfter = time.Hour

// MaxStagedBatches bounds the batches of one CommitStaged call: every
// batch adds its entry to the snapshot's summary (~150 bytes for a
// Kinesis batch), which the table's metadata file keeps until the
// snapshot expires.
const MaxStagedBatches = 1000

// Staged is a batch whose data files are written and not yet committed:
// what a writer hands to the table's committer, as JSON.
type Staged struct {
	Source string `json:"source"`
	First  string `json:"first"`
	Last   string `json:"last"`
	Hash   string `json:"hash"` // the rows' hash, 16 hex digits (as PropBatchHash)
	Rows   int    `json:"rows"`
	// StagedAt is when the files were written (Unix milliseconds; the
	// oldest of them when a retry found them in place): CommitStaged
	// refuses a batch older than Options.MaxStagedAge and checks the files
	// of one older than VerifyStagedAfter.
	StagedAt int64        `json:"staged_at"`
	Files    []StagedFile `json:"files"`
}

// StagedFile is one data file of a staged batch: its manifest entry, as
// iceberg-go describes the file from its footer (DataFileFromMetadata:
// bounds truncated as the table's metrics mode says, 16 bytes by default).
// Column maps are by field id.
type StagedFile struct {
	Path         string           `json:"path"` // its location, as the manifest will name it
	Size         int64            `json:"size"`
	Rows         int64            `json:"rows"`
	Partition    []PartitionValue `json:"partition"` // in the spec's order
	ColumnSizes  map[int]int64    `json:"column_sizes"`
	ValueCounts  map[int]int64    `json:"value_counts"`
	NullCounts   map[int]int64    `json:"null_counts"`
	NaNCounts    map[int]int64    `json:"nan_counts"`
	Lower        map[int][]byte   `json:"lower"`
	Upper        map[int][]byte   `json:"upper"`
	SplitOffsets []int64          `json:"split_offsets,omitempty"`
}

// PartitionValue is one partition field's value: a string (identity of a
// string column) or an integer (a day, an hour).
type PartitionValue struct {
	Field  int     `json:"field"` // the partition field's id
	String *string `json:"string,omitempty"`
	Int    *int64  `json:"int,omitempty"`
}

// ID is the batch's name: "source/first-last".
func (s *Staged) ID() string { return s.Source + "/" + s.First + "-" + s.Last }

func (s *Staged) identity() (identity, error) {
	b := Batch{Source: s.Source, First: s.First, Last: s.Last}
	if err := b.check(); err != nil {
		return identity{}, err
	}
	h, err := strconv.ParseUint(s.Hash, 16, 64)
	if err != nil || len(s.Hash) != 16 {
		return identity{}, fmt.Errorf("table: staged batch %s: hash %q is not 16 hex digits", s.ID(), s.Hash)
	}
	return identity{source: s.Source, first: s.First, last: s.Last, hash: h}, nil
}

// Stage writes the batch's data files as Commit does and returns what the
// committer needs to commit them (CommitStaged). A batch the table already
// holds (as far as the table loaded here tells) is not written again:
// Result.AlreadyCommitted is set and the Staged is empty, as it is for a
// batch with no rows. The files belong to no snapshot until the committer
// commits them: DeleteOrphans' grace must exceed the committer's delay.
func (t *Table) Stage(ctx context.Context, b Batch) (Staged, Result, error) {
	stagedAt := time.Now() // before the writes: a file's age is never understated
	tbl, id, parts, res, err := t.prepare(ctx, &b)
	if err != nil || parts == nil {
		return Staged{}, res, err
	}
	st := Staged{Source: id.source, First: id.first, Last: id.last, Hash: id.hashHex(), Rows: len(b.Rows)}
	for _, p := range parts {
		pv, err := partitionValues(tbl.Spec(), p.values)
		if err != nil {
			return Staged{}, res, fmt.Errorf("table: batch %s: %w", b.ID(), err)
		}
		f := p.file
		st.Files = append(st.Files, StagedFile{Path: f.FilePath(), Size: p.size, Rows: f.Count(), Partition: pv,
			ColumnSizes: f.ColumnSizes(), ValueCounts: f.ValueCounts(), NullCounts: f.NullValueCounts(), NaNCounts: f.NaNValueCounts(),
			Lower: f.LowerBoundValues(), Upper: f.UpperBoundValues(), SplitOffsets: f.SplitOffsets()})
		if !p.wrote && !p.found.IsZero() && p.found.Before(stagedAt) {
			stagedAt = p.found // the file of an earlier attempt: its age counts
		}
	}
	st.StagedAt = stagedAt.UnixMilli()
	return st, res, nil
}

// partitionValues encodes a part's partition values, in the spec's order.
func partitionValues(spec iceberg.PartitionSpec, values map[int]any) ([]PartitionValue, error) {
	out := make([]PartitionValue, 0, len(values))
	for _, pf := range spec.Fields() {
		id := pf.FieldID
		pv := PartitionValue{Field: id}
		switch v := values[id].(type) {
		case string:
			pv.String = &v
		case iceberg.Date:
			n := int64(v)
			pv.Int = &n
		case int32:
			n := int64(v)
			pv.Int = &n
		default:
			return nil, fmt.Errorf("partition field %d: a value of type %T cannot be staged", id, v)
		}
		out = append(out, pv)
	}
	return out, nil
}

// StagedResult is what CommitStaged did with one staged batch.
type StagedResult struct {
	// Batch is the staged batch's name, "source/first-last".
	Batch string
	// SnapshotID is the snapshot that added the batch: the call's, or an
	// earlier one when AlreadyCommitted.
	SnapshotID int64
	// AlreadyCommitted: the table held the batch before this call, or the
	// call was given it twice (the second copy).
	AlreadyCommitted bool
	// Err is why the batch was not committed: a staged batch that does
	// not describe files of this table (a bad message), or one whose
	// source and positions the table holds with other rows
	// (ErrConflictingBatch). The other batches of the call commit.
	Err error
}

// StagedCommit says what CommitStaged did.
type StagedCommit struct {
	// Results has one entry per staged batch, in the order given.
	Results []StagedResult
	// SnapshotID is the snapshot this call committed, 0 if none.
	SnapshotID int64
	// Batches and Files count what that snapshot added.
	Batches, Files int
	// Attempts counts commit attempts (1, plus one per conflict lost).
	Attempts int
}

// CommitStaged commits the staged batches that the table does not hold yet
// in one snapshot (at most MaxStagedBatches). A batch that cannot be
// committed gets its error in the results, and the others commit; the
// returned error is for the call as a whole (the catalog, too many
// conflicts), when no batch was committed.
func (t *Table) CommitStaged(ctx context.Context, batches []Staged) (StagedCommit, error) {
	out := StagedCommit{Results: make([]StagedResult, len(batches))}
	if len(batches) > MaxStagedBatches {
		return out, fmt.Errorf("table: %d staged batches in one commit, at most %d", len(batches), MaxStagedBatches)
	}
	ids := make([]identity, len(batches))
	first := map[string]int{}  // source/first/last -> the first index naming it
	byName := map[string]int{} // data file name -> the first index naming it
	var todo []int
	for i := range batches {
		r := &out.Results[i]
		r.Batch = batches[i].ID()
		id, err := batches[i].identity()
		if err == nil {
			err = checkStaged(&batches[i])
		}
		if err != nil {
			r.Err = err
			continue
		}
		ids[i] = id
		key := id.source + "/" + id.first + "/" + id.last
		if j, ok := first[key]; ok {
			if ids[j].hash != id.hash {
				r.Err = fmt.Errorf("%w: batch %s staged twice with hashes %s and %s", ErrConflictingBatch, id, ids[j].hashHex(), id.hashHex())
			}
			continue // the duplicate takes the first copy's outcome below
		}
		// Another identity naming the same files (positions may hold '-',
		// so "a-b"/"c" and "a"/"b-c" make one name): the same batch.
		if j, ok := byName[id.fileName()]; ok {
			first[key] = j
			continue
		}
		first[key], byName[id.fileName()] = i, i
		todo = append(todo, i)
	}
	defer func() { // copies share the first copy's outcome
		for i := range out.Results {
			r := &out.Results[i]
			if r.Err != nil || ids[i].source == "" {
				continue
			}
			if j := first[ids[i].source+"/"+ids[i].first+"/"+ids[i].last]; j != i {
				r.SnapshotID, r.Err = out.Results[j].SnapshotID, out.Results[j].Err
				r.AlreadyCommitted = r.Err == nil
			}
		}
	}()
	if len(todo) == 0 {
		return out, nil
	}
	tbl, err := t.Load(ctx)
	if err != nil {
		return out, err
	}
	for attempt := 0; ; attempt++ {
		if err := checkReplay(tbl); err != nil {
			return out, err
		}
		// The batches the table holds now are done; the rest are described
		// against this table's schema and spec.
		var pending []int
		var files []iceberg.DataFile
		idx := indexBatches(tbl)
		for _, i := range todo {
			r := &out.Results[i]
			var found Result
			done, err := idx.find(ids[i], &found)
			switch {
			case err != nil:
				r.Err = err
				continue
			case done:
				r.AlreadyCommitted, r.SnapshotID = true, found.SnapshotID
				continue
			}
			err = t.checkAge(&batches[i])
			var dfs []iceberg.DataFile
			if err == nil {
				dfs, err = stagedDataFiles(tbl, &batches[i])
			}
			if err == nil && time.Since(time.UnixMilli(batches[i].StagedAt)) > VerifyStagedAfter {
				err = stagedFilesExist(ctx, tbl, &batches[i])
			}
			if err != nil {
				r.Err = fmt.Errorf("table: staged batch %s: %w", ids[i], err)
				continue
			}
			pending = append(pending, i)
			files = append(files, dfs...)
		}
		if len(pending) == 0 {
			return out, nil
		}
		out.Attempts++
		pids := make([]identity, len(pending))
		for k, i := range pending {
			pids[k] = ids[i]
		}
		snap, err := appendFiles(ctx, tbl, files, stagedProps(pids))
		if err == nil {
			for _, i := range pending {
				out.Results[i].SnapshotID = snap
			}
			out.SnapshotID, out.Batches, out.Files = snap, len(pending), len(files)
			return out, nil
		}
		fresh, lerr := t.Load(ctx)
		if lerr != nil {
			return out, fmt.Errorf("table: commit %d staged batches: %w", len(pending), errors.Join(err, lerr))
		}
		lost := conflict(err, tbl, fresh)
		todo, tbl = pending, fresh
		if anyFound(fresh, pids) {
			// The commit landed after all (an unknown outcome), or another
			// committer took some of the batches: the loop's top sorts
			// them out, and fewer remain.
			continue
		}
		if !lost {
			return out, fmt.Errorf("table: commit %d staged batches: %w", len(pending), err)
		}
		if out.Attempts >= t.attempts {
			return out, fmt.Errorf("%w: %d staged batches, %d attempts: %w", ErrTooManyConflicts, len(pending), out.Attempts, err)
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return out, err
		}
	}
}

// stagedClockSkew is how far in the future a batch's StagedAt may be (the
// landing function's clock against the committer's).
const stagedClockSkew = 10 * time.Minute

// checkAge refuses a staged batch whose files may be removed as orphans
// before its commit lands (older than Options.MaxStagedAge), or that says
// it was staged in the future.
func (t *Table) checkAge(s *Staged) error {
	at := time.UnixMilli(s.StagedAt)
	age := time.Since(at)
	switch {
	case age < -stagedClockSkew:
		return fmt.Errorf("staged at %s, in the future", at.UTC().Format(time.RFC3339))
	case t.maxAge > 0 && age > t.maxAge:
		return fmt.Errorf("its data files were written %s ago, more than %s (the orphan sweep may be removing them): land the batch again from its source",
			age.Round(time.Minute), t.maxAge)
	}
	return nil
}

// stagedFilesExist checks that every data file of an old staged batch is
// still there, whole.
func stagedFilesExist(ctx context.Context, tbl *itable.Table, s *Staged) error {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("file system of %s: %w", tbl.Location(), err)
	}
	st, ok := fsys.(iceio.StatIO)
	if !ok {
		return fmt.Errorf("the table's file system %T cannot tell whether the files of a batch staged at %s are still there",
			fsys, time.UnixMilli(s.StagedAt).UTC().Format(time.RFC3339))
	}
	for _, f := range s.Files {
		fi, err := st.Stat(f.Path)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
			return fmt.Errorf("staged at %s, its data file %s is gone (removed as an orphan?): land the batch again from its source",
				time.UnixMilli(s.StagedAt).UTC().Format(time.RFC3339), f.Path)
		case err != nil:
			return fmt.Errorf("data file %s: %w", f.Path, err)
		case fi.Size() != f.Size:
			return fmt.Errorf("data file %s holds %d bytes, the batch staged %d", f.Path, fi.Size(), f.Size)
		}
	}
	return nil
}

// anyFound reports whether the table holds any of the batches: a failed
// commit whose outcome was unknown landed.
func anyFound(tbl *itable.Table, ids []identity) bool {
	idx := indexBatches(tbl)
	for _, id := range ids {
		var r Result
		if done, _ := idx.find(id, &r); done {
			return true
		}
	}
	return false
}

// batchIndex is every batch the table holds (named by the current
// snapshot's ancestors, newest first, then the expired batches
// remembered), by the name their files share ("source-first-last"):
// identity.find asks it, and CommitStaged builds it once for all its
// batches.
type batchIndex map[string][]expiredBatch

func indexBatches(tbl *itable.Table) batchIndex {
	idx := batchIndex{}
	add := func(e expiredBatch) {
		if e.source == "" || e.hash == "" {
			return
		}
		k := e.source + "-" + e.first + "-" + e.last
		idx[k] = append(idx[k], e)
	}
	n := len(tbl.Metadata().Snapshots())
	for s := tbl.CurrentSnapshot(); s != nil && n >= 0; n-- {
		for _, e := range summaryBatches(*s) {
			add(e)
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	for _, e := range parseExpired(tbl.Properties()[PropExpiredBatches]) {
		add(e)
	}
	return idx
}

// find looks for the batch: the batch itself, or another identity naming
// the same files with the same hash (positions may hold '-', which names
// join with), is found, the newest first; the batch with another hash is
// ErrConflictingBatch.
func (idx batchIndex) find(id identity, res *Result) (bool, error) {
	for _, e := range idx[id.source+"-"+id.first+"-"+id.last] {
		same := e.source == id.source && e.first == id.first && e.last == id.last
		switch {
		case e.hash == id.hashHex():
			res.AlreadyCommitted, res.SnapshotID = true, e.snapshot
			return true, nil
		case same:
			return false, fmt.Errorf("%w: batch %s, snapshot %d has hash %s, ours is %s", ErrConflictingBatch, id, e.snapshot, e.hash, id.hashHex())
		}
	}
	return false, nil
}

// checkStaged checks what a staged batch says before anything of it is
// used: it came over a queue, so it is input.
func checkStaged(s *Staged) error {
	if len(s.Files) == 0 {
		return fmt.Errorf("table: staged batch %s names no data file", s.ID())
	}
	if s.Rows <= 0 {
		return fmt.Errorf("table: staged batch %s has %d rows", s.ID(), s.Rows)
	}
	seen := map[string]bool{}
	for _, f := range s.Files {
		if seen[f.Path] {
			return fmt.Errorf("table: staged batch %s names data file %s twice", s.ID(), f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}

// stagedDataFiles builds a staged batch's manifest entries as
// DataFileFromMetadata builds Commit's. Each file must lie in the table's
// data folder and be named after the batch, so a message cannot make the
// table take in any other file; its statistics must name the schema's
// columns, with counts within its rows and bounds no longer than
// maxStagedBound.
func stagedDataFiles(tbl *itable.Table, s *Staged) (dfs []iceberg.DataFile, err error) {
	defer func() { // iceberg-go's builders panic on some invalid input
		if r := recover(); r != nil {
			dfs, err = nil, fmt.Errorf("describe its data files: %v", r)
		}
	}()
	lp, err := tbl.LocationProvider()
	if err != nil {
		return nil, fmt.Errorf("locations: %w", err)
	}
	id, _ := s.identity()
	name := id.fileName() + ".parquet"
	sortID := sortOrderID(tbl)
	spec, sc := tbl.Spec(), tbl.Schema()
	dfs = make([]iceberg.DataFile, 0, len(s.Files))
	total := int64(0)
	for _, f := range s.Files {
		values, logical, rel, err := stagedPartition(spec, sc, f.Partition)
		if err != nil {
			return nil, fmt.Errorf("data file %s: %w", f.Path, err)
		}
		if want := lp.NewDataLocation(rel + "/" + name); f.Path != want {
			return nil, fmt.Errorf("data file %s is not where the batch's file for its partition goes (%s)", f.Path, want)
		}
		if f.Size <= 0 || f.Rows <= 0 || f.Rows > int64(s.Rows) {
			return nil, fmt.Errorf("data file %s: size %d, %d rows", f.Path, f.Size, f.Rows)
		}
		if err := checkStats(sc, &f); err != nil {
			return nil, fmt.Errorf("data file %s: %w", f.Path, err)
		}
		total += f.Rows
		b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, f.Path, iceberg.ParquetFile, values, logical, nil, f.Rows, f.Size)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", f.Path, err)
		}
		if len(f.Lower) > 0 {
			b.LowerBoundValues(f.Lower)
		}
		if len(f.Upper) > 0 {
			b.UpperBoundValues(f.Upper)
		}
		b.ColumnSizes(f.ColumnSizes).ValueCounts(f.ValueCounts).NullValueCounts(f.NullCounts).NaNValueCounts(f.NaNCounts).SplitOffsets(f.SplitOffsets)
		if sortID != 0 {
			b.SortOrderID(sortID)
		}
		dfs = append(dfs, b.Build())
	}
	if total != int64(s.Rows) {
		return nil, fmt.Errorf("its files hold %d rows, the batch %d", total, s.Rows)
	}
	return dfs, nil
}

// maxStagedBound bounds a staged file's lower and upper bounds: iceberg-go
// truncates string bounds to 16 bytes by default; a longer one is only
// kept with a "full" metrics mode, which eventlake does not set.
const maxStagedBound = 256

// checkStats checks a staged file's statistics against the schema: field
// ids of its columns, counts from 0 to its rows, bounds of at most
// maxStagedBound bytes, split offsets ascending within the file.
func checkStats(sc *iceberg.Schema, f *StagedFile) error {
	for what, m := range map[string]map[int]int64{"column size": f.ColumnSizes, "value count": f.ValueCounts, "null count": f.NullCounts, "NaN count": f.NaNCounts} {
		for id, n := range m {
			if _, ok := sc.FindFieldByID(id); !ok {
				return fmt.Errorf("a %s of column %d, which the schema does not have", what, id)
			}
			if n < 0 || (what != "column size" && n > f.Rows) || (what == "column size" && n > f.Size) {
				return fmt.Errorf("a %s of %d for column %d", what, n, id)
			}
		}
	}
	for what, m := range map[string]map[int][]byte{"lower": f.Lower, "upper": f.Upper} {
		for id, b := range m {
			if _, ok := sc.FindFieldByID(id); !ok {
				return fmt.Errorf("a %s bound of column %d, which the schema does not have", what, id)
			}
			if len(b) > maxStagedBound {
				return fmt.Errorf("a %s bound of %d bytes for column %d", what, len(b), id)
			}
		}
	}
	for i, o := range f.SplitOffsets {
		if o < 0 || o >= f.Size || (i > 0 && o <= f.SplitOffsets[i-1]) {
			return fmt.Errorf("split offsets %v in a file of %d bytes", f.SplitOffsets, f.Size)
		}
	}
	return nil
}

// stagedPartition decodes a staged file's partition values against the
// table's spec, and returns them with the file's folder below the data
// folder, as plan names it.
func stagedPartition(spec iceberg.PartitionSpec, sc *iceberg.Schema, pvs []PartitionValue) (map[int]any, map[int]string, string, error) {
	if len(pvs) != spec.NumFields() {
		return nil, nil, "", fmt.Errorf("%d partition values for a spec of %d fields", len(pvs), spec.NumFields())
	}
	values := make(map[int]any, len(pvs))
	logical := map[int]string{}
	segs := make([]string, 0, len(pvs))
	for i, pf := range spec.Fields() {
		pv := pvs[i]
		if pv.Field != pf.FieldID {
			return nil, nil, "", fmt.Errorf("partition value %d is for field %d, the spec's is %d (%s)", i, pv.Field, pf.FieldID, pf.Name)
		}
		src, ok := sc.FindFieldByID(pf.SourceID())
		if !ok {
			return nil, nil, "", fmt.Errorf("partition field %s: no source column", pf.Name)
		}
		typ := pf.Transform.ResultType(src.Type)
		if pv.Int != nil && int64(int32(*pv.Int)) != *pv.Int {
			return nil, nil, "", fmt.Errorf("partition field %s: %d is out of range", pf.Name, *pv.Int)
		}
		var v any
		switch {
		case pv.String != nil && pv.Int == nil && typ.Equals(iceberg.PrimitiveTypes.String):
			v = *pv.String
		case pv.Int != nil && pv.String == nil && typ.Equals(iceberg.PrimitiveTypes.Date):
			v = iceberg.Date(int32(*pv.Int))
		case pv.Int != nil && pv.String == nil && typ.Equals(iceberg.PrimitiveTypes.Int32):
			v = int32(*pv.Int)
		default:
			return nil, nil, "", fmt.Errorf("partition field %s (%s) cannot take the value given", pf.Name, typ)
		}
		values[pf.FieldID] = v
		if typ.Equals(iceberg.PrimitiveTypes.Date) {
			logical[pf.FieldID] = "date" // as DataFileFromMetadata marks a day
		}
		segs = append(segs, Segment(pf.Name, pf.Transform.ToHumanStrType(src.Type, v)))
	}
	rel := strings.Join(segs, "/")
	if err := checkRel(rel + "/x.parquet"); err != nil {
		return nil, nil, "", err
	}
	return values, logical, rel, nil
}

// stagedProps is the summary of a snapshot committing the batches: one
// batch's as Commit writes it, or PropBatches for several.
func stagedProps(ids []identity) iceberg.Properties {
	if len(ids) == 1 {
		return ids[0].props()
	}
	entries := make([]string, len(ids))
	for i, id := range ids {
		entries[i] = id.source + "/" + id.first + "/" + id.last + "/" + id.hashHex()
	}
	return iceberg.Properties{PropBatch: strconv.Itoa(len(ids)) + " batches", PropBatches: strings.Join(entries, ",")}
}

// summaryBatches lists the batches a snapshot's summary names: Commit's
// one (PropBatch*), or CommitStaged's (PropBatches). Entries it cannot read
// are skipped.
func summaryBatches(s itable.Snapshot) []expiredBatch {
	if s.Summary == nil {
		return nil
	}
	p := s.Summary.Properties
	var out []expiredBatch
	if p[PropBatchSource] != "" && p[PropBatchHash] != "" {
		out = append(out, expiredBatch{source: p[PropBatchSource], first: p[PropBatchFirst], last: p[PropBatchLast], hash: p[PropBatchHash], snapshot: s.SnapshotID})
	}
	if list := p[PropBatches]; list != "" {
		out = append(out, stagedEntries(list, s.SnapshotID)...)
	}
	return out
}

// stagedEntries lists a PropBatches value's batches; entries it cannot
// read are skipped.
func stagedEntries(list string, snapshot int64) []expiredBatch {
	var out []expiredBatch
	for _, e := range strings.Split(list, ",") {
		f := strings.Split(e, "/")
		if len(f) != 4 || f[0] == "" || f[3] == "" {
			continue
		}
		out = append(out, expiredBatch{source: f[0], first: f[1], last: f[2], hash: f[3], snapshot: snapshot})
	}
	return out
}

// MaxStagedMessage bounds a staged batch's message (an SQS message holds
// at most 256 KiB), maxStagedUnpacked what it unpacks to (DecodeStaged).
const (
	MaxStagedMessage  = 256 << 10
	maxStagedUnpacked = 16 << 20
)

// stagedMessageLimit is MaxStagedMessage; tests lower it.
var stagedMessageLimit = MaxStagedMessage

// stagedMagic begins every staged batch's message, before the base64 of
// its gzipped JSON: a queue carries text only.
const stagedMagic = "eventlake-staged-v2:"

// EncodeStaged makes a staged batch's message: stagedMagic, then the
// base64 of its gzipped JSON. A batch whose message would pass
// MaxStagedMessage (about 1,000 partitions) is an error: Table.StageMessage
// hands such a batch over by reference.
func EncodeStaged(s Staged) ([]byte, error) {
	z, err := gzipJSON(s)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, len(stagedMagic)+base64.StdEncoding.EncodedLen(z.Len()))
	copy(msg, stagedMagic)
	base64.StdEncoding.Encode(msg[len(stagedMagic):], z.Bytes())
	if len(msg) > stagedMessageLimit {
		return nil, fmt.Errorf("%w: staged batch %s (%d data files) makes a message of %d bytes, more than %d (Table.StageMessage hands it over by reference)",
			errStagedTooBig, s.ID(), len(s.Files), len(msg), stagedMessageLimit)
	}
	return msg, nil
}

// errStagedTooBig: a staged batch's message would pass MaxStagedMessage.
var errStagedTooBig = errors.New("table: staged batch too big for a message")

// gzipJSON is a staged batch's JSON, gzipped at the fastest level.
func gzipJSON(s Staged) (*bytes.Buffer, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zw.Write(js)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &z, nil
}

// DecodeStaged reads a staged batch's message (EncodeStaged), or its plain
// JSON. A message that is neither gets an error saying why.
func DecodeStaged(msg []byte) (Staged, error) {
	var s Staged
	js := msg
	if rest, ok := bytes.CutPrefix(msg, []byte(stagedMagic)); ok {
		z, err := base64.StdEncoding.DecodeString(string(rest))
		if err != nil {
			return s, fmt.Errorf("table: staged batch message: base64: %w", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return s, fmt.Errorf("table: staged batch message: gzip: %w", err)
		}
		if js, err = io.ReadAll(io.LimitReader(zr, maxStagedUnpacked+1)); err != nil {
			return s, fmt.Errorf("table: staged batch message: gzip: %w", err)
		}
		if len(js) > maxStagedUnpacked {
			return s, fmt.Errorf("table: staged batch message unpacks to more than %d bytes", maxStagedUnpacked)
		}
	} else if len(bytes.TrimSpace(msg)) == 0 || bytes.TrimSpace(msg)[0] != '{' {
		return s, fmt.Errorf("table: not a staged batch message (it begins neither with %q nor with a JSON object)", stagedMagic)
	}
	s, err := decodeStagedJSON(js)
	if err != nil {
		return s, fmt.Errorf("table: staged batch message: %w", err)
	}
	return s, nil
}

// decodeStagedJSON reads a staged batch's JSON: one object, no unknown
// field.
func decodeStagedJSON(js []byte) (Staged, error) {
	var s Staged
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, err
	}
	if dec.More() {
		return s, errors.New("more after its JSON object")
	}
	return s, nil
}

// stagedRefMagic begins the message of a staged batch handed over by
// reference: the location of its gzipped JSON, a file of the table.
const stagedRefMagic = "eventlake-staged-ref-v2:"

// maxStagedRefUnpacked bounds what a referenced staged batch unpacks to:
// ~3 KB of JSON a data file, so some 80,000 partitions in one batch.
const maxStagedRefUnpacked = 256 << 20

// stagedFolder holds staged batches handed over by reference, below the
// table's location. They are no snapshot's: DeleteOrphans removes them
// after its grace, as it removes staged data files never committed.
const stagedFolder = "staged"

// StageMessage makes the committer's message of a staged batch:
// EncodeStaged's, or, for a batch of so many partitions that it would pass
// MaxStagedMessage, a reference to the batch written as a file of the
// table (<location>/staged/<batch name>.json.gz), which ReadStaged reads.
// No batch is too big to hand off, so none can stop a stream.
func (t *Table) StageMessage(ctx context.Context, st Staged) ([]byte, error) {
	msg, err := EncodeStaged(st)
	if err == nil || !errors.Is(err, errStagedTooBig) {
		return msg, err
	}
	id, err := st.identity()
	if err != nil {
		return nil, err
	}
	tbl, err := t.Load(ctx)
	if err != nil {
		return nil, err
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("table: the table's file system %T cannot write", fsys)
	}
	z, err := gzipJSON(st)
	if err != nil {
		return nil, err
	}
	loc := stagedLocation(tbl, id)
	if err := wfs.WriteFile(loc, z.Bytes()); err != nil {
		return nil, fmt.Errorf("table: write staged batch %s: %w", id, err)
	}
	return []byte(stagedRefMagic + loc), nil
}

// stagedName is a staged batch's file name (lake.Name's characters).
var stagedName = regexp.MustCompile(`^[A-Za-z0-9_-]+\.json\.gz$`)

// stagedLocation is where StageMessage writes a staged batch.
func stagedLocation(tbl *itable.Table, id identity) string {
	return strings.TrimSuffix(tbl.Location(), "/") + "/" + stagedFolder + "/" + id.fileName() + ".json.gz"
}

// ReadStaged reads a staged batch's message (StageMessage): inline
// (DecodeStaged), or by reference, which must name the staged file of a
// batch in this table's staged folder, whose identity must be the batch's.
func (t *Table) ReadStaged(ctx context.Context, msg []byte) (Staged, error) {
	ref, ok := bytes.CutPrefix(msg, []byte(stagedRefMagic))
	if !ok {
		return DecodeStaged(msg)
	}
	loc := string(ref)
	tbl, err := t.Load(ctx)
	if err != nil {
		return Staged{}, err
	}
	folder := strings.TrimSuffix(tbl.Location(), "/") + "/" + stagedFolder + "/"
	name, ok := strings.CutPrefix(loc, folder)
	if !ok || !stagedName.MatchString(name) {
		return Staged{}, fmt.Errorf("table: a staged batch reference must name a file of %s, not %q", folder, loc)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return Staged{}, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	f, err := fsys.Open(loc)
	if err != nil {
		return Staged{}, fmt.Errorf("table: staged batch %s: %w", loc, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(io.LimitReader(f, maxStagedRefUnpacked))
	if err != nil {
		return Staged{}, fmt.Errorf("table: staged batch %s: gzip: %w", loc, err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, maxStagedRefUnpacked+1))
	if err != nil {
		return Staged{}, fmt.Errorf("table: staged batch %s: gzip: %w", loc, err)
	}
	if len(js) > maxStagedRefUnpacked {
		return Staged{}, fmt.Errorf("table: staged batch %s unpacks to more than %d bytes", loc, maxStagedRefUnpacked)
	}
	s, err := decodeStagedJSON(js)
	if err != nil {
		return s, fmt.Errorf("table: staged batch %s: %w", loc, err)
	}
	id, err := s.identity()
	if err != nil {
		return s, err
	}
	if stagedLocation(tbl, id) != loc {
		return s, fmt.Errorf("table: staged batch %s holds batch %s", loc, id)
	}
	return s, nil
}

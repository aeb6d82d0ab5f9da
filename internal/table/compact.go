package table

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/retry"
)

// Compaction as table maintenance (docs/iceberg.md, "Compaction and
// maintenance"). A partition's small data files are merged into few large
// ones, keeping the first copy of each event_uuid, and swapped for them in
// one overwrite snapshot per partition (a round). The three stages, as in
// internal/compact: plan (this file: which files, the round's identity),
// merge (compact_merge.go: read, de-duplicate, sort, write; no commit) and
// commit (this file: one ReplaceDataFilesWithDataFiles in Commit's kind of
// retry loop).

// Defaults of CompactOptions.
const (
	DefaultTargetSize = 128 << 20
	DefaultChunkRows  = 8192
)

// Summary properties of a compaction snapshot. PropCompaction is the
// round's identity (a hash of the files it replaces and its settings), so
// a retried round whose commit landed is recognised.
const (
	PropCompaction           = "eventlake.compaction"
	PropCompactionPartition  = "eventlake.compaction.partition"
	PropCompactionFiles      = "eventlake.compaction.files"
	PropCompactionDuplicates = "eventlake.compaction.duplicates"
)

// CompactOptions tune Compact. Zero values mean defaults.
type CompactOptions struct {
	// TargetSize is the stored size of the data files written, and files
	// at least this big are left as they are (their events still win over
	// later copies). DefaultTargetSize unless set.
	TargetSize int64
	// ChunkRows is how many rows are read from an input, or encoded, at a
	// time (DefaultChunkRows). With TargetSize it bounds memory: one
	// chunk per input file of a round, one row group being encoded, and
	// the set of the partition's event_uuids.
	ChunkRows int
	// Progress, when set, is called after each partition's round.
	Progress func(RoundResult)

	// step, when set, is called before every step that changes the store
	// ("write <file>", "commit <partition>") and after a commit landed
	// ("committed <partition>"); an error stops Compact there, as a crash
	// would. For tests.
	step func(name string) error
}

// RoundResult is what happened to one partition.
type RoundResult struct {
	Partition string // its folder below data/
	ID        string // the round's identity (PropCompaction)
	// Outcome: "committed", "already" (an earlier run committed this
	// round), "dropped" (a concurrent compaction replaced one of its files
	// first: its outputs are orphans, nothing changed) or "failed".
	Outcome     string
	SnapshotID  int64 // the overwrite snapshot: ours, or the earlier one for "already"
	FilesBefore int   // data files replaced
	FilesAfter  int   // data files written in their place
	Kept        int   // data files left as they are (big enough), read for event_uuids only
	BytesBefore int64
	BytesAfter  int64
	EventsIn    int64 // rows of the files replaced
	Events      int64 // rows written
	Duplicates  int64 // rows dropped: their event_uuid was kept already
	Written     int   // output files written (the others were found from an earlier attempt)
	Attempts    int   // commit attempts
	Err         error
}

// CompactResult sums the rounds.
type CompactResult struct {
	Partitions                          int // partitions with two or more files below the target size
	Committed, Already, Dropped, Failed int
	RoundResult                         // totals
	Rounds                              []RoundResult
}

func (r *CompactResult) add(x RoundResult) {
	r.Rounds = append(r.Rounds, x)
	switch x.Outcome {
	case "committed":
		r.Committed++
	case "already":
		r.Already++
	case "dropped":
		r.Dropped++
	default:
		r.Failed++
	}
	if x.Outcome != "committed" {
		return // only a committed round changed the table
	}
	r.FilesBefore += x.FilesBefore
	r.FilesAfter += x.FilesAfter
	r.Kept += x.Kept
	r.BytesBefore += x.BytesBefore
	r.BytesAfter += x.BytesAfter
	r.EventsIn += x.EventsIn
	r.Events += x.Events
	r.Duplicates += x.Duplicates
	r.Written += x.Written
	r.Attempts += x.Attempts
}

// ErrRoundDropped: a file the round replaces is no longer in the table (a
// concurrent compaction replaced it first). Nothing was committed.
var ErrRoundDropped = errors.New("table: a data file of the compaction round is no longer in the table")

// Compact merges, per partition of the current snapshot, the data files
// below the target size when there are two or more, keeping the first copy
// of each event_uuid and sorting by created_datetime, and commits one
// overwrite per partition. Partitions are compacted one after another; one
// that fails does not stop the others, and Compact returns their errors
// joined. Appends committed meanwhile are not lost: a round replaces only
// the files it planned on, and its commit is retried on the fresh table.
func (t *Table) Compact(ctx context.Context, opts CompactOptions) (CompactResult, error) {
	if opts.TargetSize <= 0 {
		opts.TargetSize = DefaultTargetSize
	}
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = DefaultChunkRows
	}
	var res CompactResult
	tbl, err := t.Load(ctx)
	if err != nil {
		return res, err
	}
	if err := checkReplay(tbl); err != nil {
		return res, err
	}
	rounds, err := planRounds(ctx, tbl, opts)
	if err != nil {
		return res, err
	}
	res.Partitions = len(rounds)
	var errs []error
	for _, r := range rounds {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		rr := t.compactRound(ctx, tbl, r, opts)
		res.add(rr)
		if opts.Progress != nil {
			opts.Progress(rr)
		}
		if rr.Err != nil {
			errs = append(errs, fmt.Errorf("partition %s: %w", rr.Partition, rr.Err))
			if errors.As(rr.Err, new(*stopped)) {
				break // a test's crash stops everything
			}
		}
	}
	return res, errors.Join(errs...)
}

// compactRound merges and commits one round.
func (t *Table) compactRound(ctx context.Context, tbl *itable.Table, r *round, opts CompactOptions) RoundResult {
	rr := RoundResult{Partition: r.folder, ID: r.id, FilesBefore: len(r.inputs), Kept: len(r.kept)}
	for _, in := range r.inputs {
		rr.BytesBefore += in.file.FileSizeBytes()
		rr.EventsIn += in.file.Count()
	}
	// A round committed by an earlier run that stopped before reporting.
	if s := findProp(tbl, PropCompaction, r.id); s != nil {
		rr.Outcome, rr.SnapshotID = "already", s.SnapshotID
		return rr
	}
	out, err := mergeRound(ctx, tbl, r, opts)
	if err != nil {
		rr.Outcome, rr.Err = "failed", err
		return rr
	}
	rr.FilesAfter, rr.Events, rr.Duplicates, rr.Written = len(out.files), out.rows, out.duplicates, out.written
	for _, f := range out.files {
		rr.BytesAfter += f.FileSizeBytes()
	}
	if rr.Events+rr.Duplicates != rr.EventsIn {
		rr.Outcome, rr.Err = "failed", fmt.Errorf("table: round %s read %d rows, the manifests say %d", r.id, rr.Events+rr.Duplicates, rr.EventsIn)
		return rr
	}
	snap, already, err := t.commitRound(ctx, r, out.files, &rr, opts.step)
	switch {
	case errors.Is(err, ErrRoundDropped):
		rr.Outcome = "dropped"
	case err != nil:
		rr.Outcome, rr.Err = "failed", err
	case already:
		rr.Outcome, rr.SnapshotID = "already", snap
	default:
		rr.Outcome, rr.SnapshotID = "committed", snap
	}
	return rr
}

// input is a data file a round replaces, or keeps and reads for its
// event_uuids.
type input struct {
	file iceberg.DataFile
	seq  int64 // data sequence number: the commit that added it
}

// round is the plan of one partition.
type round struct {
	folder string // partition folder below data/
	id     string // identity: a hash of inputs, kept files and settings
	// inputs are merged, in the de-duplication order: by data sequence
	// number, then path. kept are left in place; their event_uuids win.
	inputs, kept []input
}

// planRounds groups the current snapshot's data files by partition and
// plans a round for each partition with two or more files below the
// target size. Files of an older partition spec are left alone.
func planRounds(ctx context.Context, tbl *itable.Table, opts CompactOptions) ([]*round, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	files, err := liveFiles(ctx, tbl, snap)
	if err != nil {
		return nil, err
	}
	spec := tbl.Spec()
	groups := map[string]*round{}
	var rounds []*round
	for _, in := range files {
		if in.file.SpecID() != int32(spec.ID()) {
			continue
		}
		folder, err := partitionFolder(tbl, in.file.Partition())
		if err != nil {
			return nil, fmt.Errorf("%w (data file %s)", err, in.file.FilePath())
		}
		r := groups[folder]
		if r == nil {
			r = &round{folder: folder}
			groups[folder] = r
			rounds = append(rounds, r)
		}
		if in.file.FileSizeBytes() < opts.TargetSize {
			r.inputs = append(r.inputs, in)
		} else {
			r.kept = append(r.kept, in)
		}
	}
	order := func(a, b input) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.file.FilePath(), b.file.FilePath()))
	}
	out := rounds[:0]
	for _, r := range rounds {
		if len(r.inputs) < 2 {
			continue
		}
		slices.SortFunc(r.inputs, order)
		slices.SortFunc(r.kept, order)
		r.id = roundID(r, tbl.Location(), opts)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *round) int { return strings.Compare(a.folder, b.folder) })
	return out, nil
}

// liveFiles are the data files of a snapshot with their data sequence
// numbers. A table with delete files is refused: Compact would have to
// apply them, and eventlake never writes any.
func liveFiles(ctx context.Context, tbl *itable.Table, snap *itable.Snapshot) ([]input, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	mans, err := snap.Manifests(fsys)
	if err != nil {
		return nil, fmt.Errorf("table: manifests of snapshot %d: %w", snap.SnapshotID, err)
	}
	var files []input
	for _, m := range mans {
		if m.ManifestContent() != iceberg.ManifestContentData {
			return nil, fmt.Errorf("table: snapshot %d has delete files (manifest %s); compaction merges data files only", snap.SnapshotID, m.FilePath())
		}
		entries, err := m.FetchEntries(fsys, true)
		if err != nil {
			return nil, fmt.Errorf("table: manifest %s: %w", m.FilePath(), err)
		}
		for _, e := range entries {
			df := e.DataFile()
			if df.ContentType() != iceberg.EntryContentData {
				return nil, fmt.Errorf("table: manifest %s lists the delete file %s; compaction merges data files only", m.FilePath(), df.FilePath())
			}
			if df.FileFormat() != iceberg.ParquetFile {
				return nil, fmt.Errorf("table: data file %s is %s; compaction reads Parquet only", df.FilePath(), df.FileFormat())
			}
			files = append(files, input{file: df, seq: e.SequenceNum()})
		}
	}
	return files, nil
}

// partitionFolder is the folder of a partition below data/, named as
// Commit names it (Segment per field, in spec order).
func partitionFolder(tbl *itable.Table, values map[int]any) (string, error) {
	spec, sc := tbl.Spec(), tbl.Schema()
	dirs := make([]string, 0, spec.NumFields())
	for _, pf := range spec.Fields() {
		src, ok := sc.FindFieldByID(pf.SourceID())
		if !ok {
			return "", fmt.Errorf("table: partition field %s has no source column", pf.Name)
		}
		h := "\x00null"
		if v, ok := values[pf.FieldID]; ok && v != nil {
			h = pf.Transform.ToHumanStrType(src.Type, v)
		}
		dirs = append(dirs, Segment(pf.Name, h))
	}
	rel := strings.Join(dirs, "/")
	if err := checkRel(rel + "/x"); err != nil {
		return "", err
	}
	return rel, nil
}

// roundID hashes what decides a round's output: its inputs (path, size,
// sequence number, in order), the kept files and the settings. Paths are
// taken relative to the table's location, so the id does not depend on
// where the warehouse is. The same plan gives the same id, hence the same
// output names and bytes.
func roundID(r *round, loc string, opts CompactOptions) string {
	h := xxhash.New()
	var buf [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	str := func(s string) { num(int64(len(s))); h.WriteString(s) }
	str("eventlake-compaction-v1")
	num(opts.TargetSize)
	num(int64(opts.ChunkRows))
	str(r.folder)
	for _, list := range [][]input{r.inputs, r.kept} {
		num(int64(len(list)))
		for _, in := range list {
			str(strings.TrimPrefix(in.file.FilePath(), loc))
			num(in.file.FileSizeBytes())
			num(in.seq)
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// findProp returns the current snapshot or ancestor whose summary sets key
// to value, or nil.
func findProp(tbl *itable.Table, key, value string) *itable.Snapshot {
	n := len(tbl.Metadata().Snapshots())
	for s := tbl.CurrentSnapshot(); s != nil && n >= 0; n-- {
		if s.Summary != nil && s.Summary.Properties[key] == value {
			return s
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	return nil
}

// commitRound swaps the round's inputs for its outputs in one overwrite
// snapshot. Each attempt loads the table afresh: if the round is in its
// history it is done (a commit whose reply was lost); if an input is no
// longer live it returns ErrRoundDropped (a concurrent compaction took
// it; the outputs are left for DeleteOrphans); else it commits on top of
// whatever was appended meanwhile, and on a conflict waits and tries
// again, at most t.attempts times.
func (t *Table) commitRound(ctx context.Context, r *round, outputs []iceberg.DataFile, rr *RoundResult, hook func(string) error) (int64, bool, error) {
	olds := make([]iceberg.DataFile, len(r.inputs))
	for i, in := range r.inputs {
		olds[i] = in.file
	}
	props := iceberg.Properties{
		PropCompaction: r.id, PropCompactionPartition: r.folder,
		PropCompactionFiles:      strconv.Itoa(len(r.inputs)) + "->" + strconv.Itoa(len(outputs)),
		PropCompactionDuplicates: strconv.FormatInt(rr.Duplicates, 10),
	}
	for attempt := 0; ; attempt++ {
		tbl, err := t.Load(ctx)
		if err != nil {
			return 0, false, err
		}
		if s := findProp(tbl, PropCompaction, r.id); s != nil {
			return s.SnapshotID, true, nil
		}
		if err := checkReplay(tbl); err != nil {
			return 0, false, err
		}
		if err := stillLive(ctx, tbl, r.inputs); err != nil {
			return 0, false, err
		}
		if err := step(ctx, hook, "commit "+r.folder); err != nil {
			return 0, false, err
		}
		rr.Attempts++
		tx := tbl.NewTransaction()
		err = tx.ReplaceDataFilesWithDataFiles(ctx, olds, outputs, props, itable.WithoutAutoNameMapping())
		var nt *itable.Table
		if err == nil {
			nt, err = tx.Commit(ctx)
		}
		if err == nil {
			if err := step(ctx, hook, "committed "+r.folder); err != nil {
				return 0, false, err
			}
			return nt.CurrentSnapshot().SnapshotID, false, nil
		}
		fresh, lerr := t.Load(ctx)
		if lerr != nil {
			return 0, false, fmt.Errorf("table: commit compaction %s of %s: %w", r.id, r.folder, errors.Join(err, lerr))
		}
		if s := findProp(fresh, PropCompaction, r.id); s != nil {
			return s.SnapshotID, true, nil
		}
		if !conflict(err, tbl, fresh) {
			return 0, false, fmt.Errorf("table: commit compaction %s of %s: %w", r.id, r.folder, err)
		}
		if rr.Attempts >= t.attempts {
			return 0, false, fmt.Errorf("%w: compaction %s of %s, %d attempts: %w", ErrTooManyConflicts, r.id, r.folder, rr.Attempts, err)
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return 0, false, err
		}
	}
}

// stillLive checks every input is a data file of tbl's current snapshot.
func stillLive(ctx context.Context, tbl *itable.Table, inputs []input) error {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return fmt.Errorf("%w: the table has no snapshot", ErrRoundDropped)
	}
	files, err := liveFiles(ctx, tbl, snap)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(files))
	for _, f := range files {
		live[f.file.FilePath()] = true
	}
	for _, in := range inputs {
		if !live[in.file.FilePath()] {
			return fmt.Errorf("%w: %s", ErrRoundDropped, in.file.FilePath())
		}
	}
	return nil
}

// step runs a test hook, if any; its error is wrapped in *stopped.
func step(ctx context.Context, fn func(string) error, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fn == nil {
		return nil
	}
	if err := fn(name); err != nil {
		return &stopped{step: name, err: err}
	}
	return nil
}

// stopped is a test hook's error: the process "crashed" before step.
type stopped struct {
	step string
	err  error
}

func (s *stopped) Error() string { return "stopped before " + s.step + ": " + s.err.Error() }
func (s *stopped) Unwrap() error { return s.err }

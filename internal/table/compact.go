package table

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	DefaultMaxInputs  = 32
	DefaultGroupBytes = 16 << 20 // shared by the partitions merged at once
)

// Summary properties of a compaction snapshot. PropCompactionRounds lists
// the identities of the rounds it commits (one per partition: a hash of the
// files it replaces and its settings), so a retried round whose commit
// landed is recognised; PropCompaction is a hash of that list.
const (
	PropCompaction           = "eventlake.compaction"
	PropCompactionRounds     = "eventlake.compaction.rounds"
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
	// time (DefaultChunkRows). With TargetSize, MaxInputs and GroupBytes
	// it bounds memory: one chunk per input file of a group (a file of at
	// most ChunkRows rows whole), the readers' pages, one row group being
	// encoded, and the set of the partition's event_uuids.
	ChunkRows int
	// MaxInputs is how many files of any size a group merges at once
	// (DefaultMaxInputs): each open input holds a batch and its reader's
	// pages (a whole column chunk of its row group). A partition with more
	// files is merged in groups, in input order, each group into files of
	// its own (the next run merges those). Within a group the earliest
	// created_datetime's copy of an event_uuid is kept; across groups, the
	// earlier group's.
	MaxInputs int
	// GroupBytes lets a group take small files (at most ChunkRows rows:
	// read whole at once and closed, so they hold no reader) beyond
	// MaxInputs while the stored bytes of its small files stay within
	// GroupBytes divided by Concurrency. So a partition of many small landed
	// files, the usual backlog, is merged in one group into one file, not
	// one per MaxInputs files. DefaultGroupBytes unless set; negative:
	// MaxInputs alone bounds a group.
	GroupBytes int64
	// Concurrency is how many partitions are merged at once (one per core
	// by default); memory grows with it.
	Concurrency int
	// MergeBy, when set, is when Compact stops starting partitions' merges:
	// those not started are deferred to a later run (CompactResult.Deferred)
	// and the merged ones are committed. A run with a time limit (the
	// scheduled Lambda) thus commits what it merged instead of nothing, and
	// a backlog bigger than one run shrinks run after run. Merges already
	// started run to their partition's end; leave them and the commit
	// time before ctx's deadline.
	MergeBy time.Time
	// Merged, when set, is called as each partition's merge ends (its
	// files are written, the commit is to come), one call at a time.
	Merged func(RoundResult)
	// Progress, when set, is called after each partition's round, once the
	// commit is done (Outcome set).
	Progress func(RoundResult)

	// step, when set, is called before every step that changes the store
	// ("write <file>", "commit") and after the commit landed
	// ("committed"); an error stops Compact there, as a crash would. For
	// tests.
	step func(name string) error
	// now, when set, is the clock MergeBy is read against. For tests.
	now func() time.Time
}

// RoundResult is what happened to one partition.
type RoundResult struct {
	Partition string // its folder below data/
	ID        string // the round's identity (listed in PropCompactionRounds)
	// Outcome: "committed", "already" (found committed: a commit whose reply was lost
	// landed), "dropped" (a concurrent compaction replaced one of its files
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
	Attempts    int   // attempts of the commit (shared by the run's rounds)
	Err         error `json:"-"` // why the round failed
}

// CompactResult sums the rounds.
type CompactResult struct {
	Partitions                          int // partitions with two or more files below the target size
	Committed, Already, Dropped, Failed int
	Deferred                            int // partitions not merged: MergeBy came first
	RoundResult                             // totals
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
	r.Attempts = max(r.Attempts, x.Attempts) // the rounds share one commit
}

// Compact merges, per partition of the current snapshot, the data files
// below the target size when there are two or more, keeping the first copy
// of each event_uuid and sorting by created_datetime, and then swaps every
// partition's files for the merged ones in one overwrite snapshot. One
// commit per run, not per partition: a run over 40 partitions makes one
// snapshot, and writers appending meanwhile race one commit, not 40.
// Partitions are merged Concurrency at a time; one that fails is left out of
// the commit and does not stop the others; Compact returns their errors
// joined. Appends committed meanwhile are not lost: the commit replaces
// only the files planned on, and is retried on the fresh table; a
// partition whose files a concurrent compaction replaced first is dropped
// from it (its outputs are left to DeleteOrphans).
func (t *Table) Compact(ctx context.Context, opts CompactOptions) (CompactResult, error) {
	if opts.TargetSize <= 0 {
		opts.TargetSize = DefaultTargetSize
	}
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = DefaultChunkRows
	}
	if opts.MaxInputs <= 0 {
		opts.MaxInputs = DefaultMaxInputs
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.GroupBytes == 0 {
		opts.GroupBytes = DefaultGroupBytes
	}
	if opts.GroupBytes > 0 {
		// Each partition merged at once gets its share: 8 MiB on 2 cores.
		opts.GroupBytes = max(1, opts.GroupBytes/int64(opts.Concurrency))
	}
	now := time.Now
	if opts.now != nil {
		now = opts.now
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
	var (
		errs    []error
		pending []*merging
		report  = func(rr RoundResult) {
			res.add(rr)
			if opts.Progress != nil {
				opts.Progress(rr)
			}
			if rr.Err != nil {
				errs = append(errs, fmt.Errorf("partition %s: %w", rr.Partition, rr.Err))
			}
		}
	)
	merged := make([]*merging, len(rounds))
	sem := make(chan struct{}, opts.Concurrency)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for i, r := range rounds {
		sem <- struct{}{}
		if !opts.MergeBy.IsZero() && !now().Before(opts.MergeBy) {
			<-sem
			res.Deferred = len(rounds) - i
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			merged[i] = mergeOne(ctx, tbl, r, opts)
			if opts.Merged != nil {
				mu.Lock()
				opts.Merged(merged[i].rr)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, m := range merged {
		if m == nil {
			continue // deferred
		}
		if m.rr.Err != nil {
			report(m.rr)
			if errors.As(m.rr.Err, new(*stopped)) {
				return res, errors.Join(errs...) // a test's crash stops everything
			}
			continue
		}
		pending = append(pending, m)
	}
	if len(pending) > 0 {
		if err := t.commitRounds(ctx, pending, opts.step); err != nil {
			errs = append(errs, err)
		}
		for _, m := range pending {
			report(m.rr)
		}
	}
	return res, errors.Join(errs...)
}

// merging is a round merged and waiting for the commit.
type merging struct {
	r       *round
	outputs []iceberg.DataFile
	rr      RoundResult
}

// mergeOne merges one round; rr.Err says if it failed.
func mergeOne(ctx context.Context, tbl *itable.Table, r *round, opts CompactOptions) *merging {
	m := &merging{r: r, rr: RoundResult{Partition: r.folder, ID: r.id, FilesBefore: len(r.inputs), Kept: len(r.kept)}}
	rr := &m.rr
	for _, in := range r.inputs {
		rr.BytesBefore += in.file.FileSizeBytes()
		rr.EventsIn += in.file.Count()
	}
	out, err := mergeRound(ctx, tbl, r, opts)
	if err != nil {
		rr.Outcome, rr.Err = "failed", err
		return m
	}
	m.outputs = out.files
	rr.FilesAfter, rr.Events, rr.Duplicates, rr.Written = len(out.files), out.rows, out.duplicates, out.written
	for _, f := range out.files {
		rr.BytesAfter += f.FileSizeBytes()
	}
	if rr.Events+rr.Duplicates != rr.EventsIn {
		rr.Outcome, rr.Err = "failed", fmt.Errorf("table: round %s read %d rows, the manifests say %d", r.id, rr.Events+rr.Duplicates, rr.EventsIn)
	}
	return m
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
// target size, those with the most first. Files of an older partition spec
// are left alone.
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
	// Most small files first: a run that defers partitions (MergeBy) merges
	// the biggest backlogs, and a partition merged last time (one file
	// plus what landed since) waits behind the others rather than being
	// merged again every run while they starve.
	slices.SortFunc(out, func(a, b *round) int {
		return cmp.Or(cmp.Compare(len(b.inputs), len(a.inputs)), strings.Compare(a.folder, b.folder))
	})
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
	num(int64(opts.MaxInputs))
	num(opts.GroupBytes)
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

// findRound returns the current snapshot or ancestor whose summary lists
// the round id in PropCompactionRounds, or nil.
func findRound(tbl *itable.Table, id string) *itable.Snapshot {
	n := len(tbl.Metadata().Snapshots())
	for s := tbl.CurrentSnapshot(); s != nil && n >= 0; n-- {
		if s.Summary != nil {
			if list := s.Summary.Properties[PropCompactionRounds]; list != "" && slices.Contains(strings.Split(list, ","), id) {
				return s
			}
		}
		if s.ParentSnapshotID == nil {
			break
		}
		s = tbl.SnapshotByID(*s.ParentSnapshotID)
	}
	return nil
}

// commitRounds swaps the rounds' inputs for their outputs in one overwrite
// snapshot. Each attempt loads the table afresh and sorts the rounds out:
// one in the history is done ("already": a commit whose reply was lost);
// one with an input no longer live is dropped (a concurrent compaction
// took it); the rest are committed on top of whatever was appended
// meanwhile. On a conflict it waits and tries again, at most t.attempts
// times. Every round ends with an Outcome.
func (t *Table) commitRounds(ctx context.Context, ms []*merging, hook func(string) error) error {
	fail := func(err error) error {
		for _, m := range ms {
			if m.rr.Outcome == "" {
				m.rr.Outcome, m.rr.Err = "failed", err
			}
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		tbl, err := t.Load(ctx)
		if err != nil {
			return fail(err)
		}
		if err := checkReplay(tbl); err != nil {
			return fail(err)
		}
		live, err := liveSet(ctx, tbl)
		if err != nil {
			return fail(err)
		}
		todo, olds, news, props := sortOut(ms, tbl, live)
		if len(todo) == 0 {
			return nil
		}
		if err := step(ctx, hook, "commit"); err != nil {
			return fail(err)
		}
		for _, m := range todo {
			m.rr.Attempts++
		}
		tx := tbl.NewTransaction()
		err = tx.ReplaceDataFilesWithDataFiles(ctx, olds, news, props, itable.WithoutAutoNameMapping())
		var nt *itable.Table
		if err == nil {
			nt, err = tx.Commit(ctx)
		}
		if err == nil {
			for _, m := range todo {
				m.rr.Outcome, m.rr.SnapshotID = "committed", nt.CurrentSnapshot().SnapshotID
			}
			if err := step(ctx, hook, "committed"); err != nil {
				return err
			}
			return nil
		}
		fresh, lerr := t.Load(ctx)
		if lerr != nil {
			return fail(fmt.Errorf("table: commit compaction %s: %w", props[PropCompaction], errors.Join(err, lerr)))
		}
		if s := findRound(fresh, todo[0].r.id); s != nil {
			continue // it landed: the next attempt marks every round
		}
		if !conflict(err, tbl, fresh) {
			return fail(fmt.Errorf("table: commit compaction %s: %w", props[PropCompaction], err))
		}
		if attempt+1 >= t.attempts {
			return fail(fmt.Errorf("%w: compaction %s, %d attempts: %w", ErrTooManyConflicts, props[PropCompaction], attempt+1, err))
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return fail(err)
		}
	}
}

// sortOut marks the rounds already in tbl's history "already" and those
// with an input no longer live "dropped", and returns the others with the
// files the commit replaces and adds and its summary.
func sortOut(ms []*merging, tbl *itable.Table, live map[string]bool) (todo []*merging, olds, news []iceberg.DataFile, props iceberg.Properties) {
	var ids []string
	var dups int64
	for _, m := range ms {
		if m.rr.Outcome != "" {
			continue
		}
		if s := findRound(tbl, m.r.id); s != nil {
			m.rr.Outcome, m.rr.SnapshotID = "already", s.SnapshotID
			continue
		}
		if !slices.ContainsFunc(m.r.inputs, func(in input) bool { return !live[in.file.FilePath()] }) {
			todo = append(todo, m)
			ids = append(ids, m.r.id)
			dups += m.rr.Duplicates
			for _, in := range m.r.inputs {
				olds = append(olds, in.file)
			}
			news = append(news, m.outputs...)
			continue
		}
		m.rr.Outcome = "dropped"
	}
	props = iceberg.Properties{
		PropCompaction:           fmt.Sprintf("%016x", xxhash.Sum64String(strings.Join(ids, ","))),
		PropCompactionRounds:     strings.Join(ids, ","),
		PropCompactionFiles:      strconv.Itoa(len(olds)) + "->" + strconv.Itoa(len(news)),
		PropCompactionDuplicates: strconv.FormatInt(dups, 10),
	}
	return todo, olds, news, props
}

// liveSet is the set of paths of the current snapshot's data files.
func liveSet(ctx context.Context, tbl *itable.Table) (map[string]bool, error) {
	live := map[string]bool{}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return live, nil
	}
	files, err := liveFiles(ctx, tbl, snap)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		live[f.file.FilePath()] = true
	}
	return live, nil
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

package table

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/retry"
)

// Batch is one landed batch: where it came from and its rows.
type Batch struct {
	// Source names the input: a stem as lake.SourceStem makes it.
	Source string
	// First and Last are the positions of its first and last record, as
	// lake.LineNumber and lake.SafePosition make them.
	First, Last string
	// Rows are the batch's events, in input order.
	Rows []lake.Row
}

// ID is the batch's name in snapshot summaries: "source/first-last".
func (b *Batch) ID() string { return b.Source + "/" + b.First + "-" + b.Last }

func (b *Batch) check() error {
	if b.Source == "" || lake.SourceStem(b.Source) != b.Source {
		return fmt.Errorf("table: batch source %q is not a source stem ([A-Za-z0-9_-], at most 64 bytes)", b.Source)
	}
	for _, p := range []string{b.First, b.Last} {
		if lake.SafePosition(p) != p {
			return fmt.Errorf("table: batch position %q is not safe ([A-Za-z0-9_-], at most 80 bytes)", p)
		}
	}
	return nil
}

// Result says what Commit did.
type Result struct {
	// AlreadyCommitted: the table already held the batch (an ancestor of
	// the current snapshot names it), so nothing was committed.
	AlreadyCommitted bool
	// SnapshotID is the snapshot that added the batch: ours, or the
	// earlier one when AlreadyCommitted. 0 for an empty batch.
	SnapshotID int64
	// Rows and Files are the batch's rows and data files.
	Rows, Files int
	// Written counts the data files this call wrote; the others were
	// found in place, left by an earlier attempt at the same batch.
	Written int
	// Attempts counts commit attempts: 1, plus one per conflict lost to
	// another writer.
	Attempts int
	// DataFiles are the batch's data files, in path order, when this call
	// wrote (or found) them: not when the batch was already committed
	// before it began.
	DataFiles []DataFile
}

// DataFile is one data file of a batch.
type DataFile struct {
	Path string // its location, as the manifest names it
	Size int64  // bytes
	Rows []int  // the indexes in Batch.Rows of the rows it holds
}

var (
	// ErrConflictingBatch: the table holds a batch of the same source and
	// positions with other rows (its hash differs). Nothing is committed:
	// an input that changed under the same name needs a new source name.
	ErrConflictingBatch = errors.New("table: a batch of the same source and positions holds other rows")
	// ErrTooManyConflicts: every attempt lost to another writer.
	ErrTooManyConflicts = errors.New("table: too many conflicting commits")
	// ErrReplayEnabled: the table enables iceberg-go's own commit retries
	// (commit.retry.num-retries > 0), which replay an append after a
	// conflict without looking for the batch, so a batch could land twice.
	ErrReplayEnabled = errors.New("table: the table property " + itable.CommitNumRetriesKey + " must be 0 (eventlake retries commits itself)")
)

// Commit adds a batch to the table exactly once. It looks for the batch in
// the table's history first, writes its data files (one per partition,
// named after the batch, never rewritten), then appends them in a snapshot
// whose summary names the batch. When another writer commits first, it
// reloads the table, looks for the batch again, and tries again with the
// same files, a bounded number of times with jittered waits. A batch with
// no rows commits nothing.
func (t *Table) Commit(ctx context.Context, b Batch) (Result, error) {
	tbl, id, parts, res, err := t.prepare(ctx, &b)
	if err != nil || parts == nil {
		return res, err
	}
	err = t.commitFiles(ctx, tbl, dataFiles(parts), id, &res)
	return res, err
}

// prepare is what Commit and Stage do before committing: check the batch,
// look for it in the table and, when it is not there, write its data
// files. No parts (and no error): nothing to commit, the batch is empty
// or already committed (res says which).
func (t *Table) prepare(ctx context.Context, b *Batch) (*itable.Table, identity, []*part, Result, error) {
	res := Result{Rows: len(b.Rows)}
	if err := b.check(); err != nil || len(b.Rows) == 0 {
		return nil, identity{}, nil, res, err
	}
	id := identity{source: b.Source, first: b.First, last: b.Last, hash: hashRows(b.Rows)}
	tbl, err := t.Load(ctx)
	if err != nil {
		return nil, id, nil, res, err
	}
	if done, err := id.find(tbl, &res); done || err != nil {
		return nil, id, nil, res, err
	}
	if err := checkReplay(tbl); err != nil {
		return nil, id, nil, res, err
	}
	parts, err := writeFiles(ctx, tbl, b, id.fileName())
	if err != nil {
		return nil, id, nil, res, fmt.Errorf("table: batch %s: %w", b.ID(), err)
	}
	res.Files, res.Written = len(parts), written(parts)
	for _, p := range parts {
		res.DataFiles = append(res.DataFiles, DataFile{Path: p.file.FilePath(), Size: p.size, Rows: p.rows})
	}
	return tbl, id, parts, res, nil
}

// commitFiles is Commit's loop: append files on top of tbl; after a
// failure, reload the table, stop if the batch is in it now, else, if the
// failure was a conflict, wait and try again on the fresh table.
func (t *Table) commitFiles(ctx context.Context, tbl *itable.Table, files []iceberg.DataFile, id identity, res *Result) error {
	for attempt := 0; ; attempt++ {
		res.Attempts++
		snap, err := appendFiles(ctx, tbl, files, id.props())
		if err == nil {
			res.SnapshotID = snap
			return nil
		}
		fresh, lerr := t.Load(ctx)
		if lerr != nil {
			return fmt.Errorf("table: commit batch %s: %w", id, errors.Join(err, lerr))
		}
		// A commit that failed may still have landed (an unknown outcome),
		// and a concurrent writer may have committed the same batch.
		if done, ferr := id.find(fresh, res); done || ferr != nil {
			return ferr
		}
		if !conflict(err, tbl, fresh) {
			return fmt.Errorf("table: commit batch %s: %w", id, err)
		}
		if res.Attempts >= t.attempts {
			return fmt.Errorf("%w: batch %s, %d attempts: %w", ErrTooManyConflicts, id, res.Attempts, err)
		}
		if err := checkReplay(fresh); err != nil {
			return err
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return err
		}
		tbl = fresh
	}
}

// appendFiles commits one append of files on top of tbl's current snapshot.
// iceberg-go's duplicate-path check is skipped: it reads every manifest of
// the table, and the batch identity already says whether the files are in.
func appendFiles(ctx context.Context, tbl *itable.Table, files []iceberg.DataFile, props iceberg.Properties) (int64, error) {
	tx := tbl.NewTransaction()
	if err := tx.AddDataFiles(ctx, files, props, itable.WithoutDuplicateCheck(), itable.WithoutAutoNameMapping()); err != nil {
		return 0, err
	}
	nt, err := tx.Commit(ctx)
	if err != nil {
		return 0, err
	}
	return nt.CurrentSnapshot().SnapshotID, nil
}

// conflict says whether a failed commit lost a race: the catalog said so
// (iceberg-go's ErrCommitFailed: the SQL catalog's compare-and-swap of the
// metadata location, a REST 409), or the table moved since the commit's
// base (the SQL catalog reports a stale branch head as a plain
// "requirement failed" error).
func conflict(err error, base, fresh *itable.Table) bool {
	return errors.Is(err, itable.ErrCommitFailed) || fresh.MetadataLocation() != base.MetadataLocation()
}

func checkReplay(tbl *itable.Table) error {
	if tbl.Properties().GetUInt64(itable.CommitNumRetriesKey, itable.CommitNumRetriesDefault) != 0 {
		return ErrReplayEnabled
	}
	return nil
}

// identity is a batch as its snapshot summary records it.
type identity struct {
	source, first, last string
	hash                uint64
}

func (id identity) String() string { return id.source + "/" + id.first + "-" + id.last }

func (id identity) hashHex() string { return fmt.Sprintf("%016x", id.hash) }

// fileName is the name of each of the batch's data files (one per
// partition folder), as the lake names its objects.
func (id identity) fileName() string {
	return lake.Name{Source: id.source, First: id.first, Last: id.last, Hash: id.hash}.String()
}

func (id identity) props() iceberg.Properties {
	return iceberg.Properties{
		PropBatch: id.String(), PropBatchSource: id.source, PropBatchFirst: id.first,
		PropBatchLast: id.last, PropBatchHash: id.hashHex(),
	}
}

// find looks for the batch in the summaries of the current snapshot and its
// ancestors (a snapshot off the main branch's history does not count), then
// among the batches of expired snapshots (PropExpiredBatches).
// Found, it fills res and reports true; found with another hash, it
// returns ErrConflictingBatch.
func (id identity) find(tbl *itable.Table, res *Result) (bool, error) {
	return indexBatches(tbl).find(id, res)
}

// hashRows hashes every column of every row, in order: for each row, the
// length and bytes of event_uuid, event_name, event_type, event_subtype,
// created_at and event, then created_datetime in microseconds, each number
// 8 bytes little-endian. The short columns are gathered in a buffer and
// hashed with the event's length in one write, the event in another: the
// same bytes as one write per value, a sixth of the calls (each call has a
// fixed cost, which 13 calls per row made 4% of landing's CPU).
func hashRows(rows []lake.Row) uint64 {
	h := xxhash.New()
	buf := make([]byte, 0, 256)
	for i := range rows {
		r := &rows[i]
		for _, s := range [...]string{r.EventUUID, r.EventName, r.EventType, r.EventSubtype, r.CreatedAt} {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(r.Event)))
		h.Write(buf)
		h.WriteString(r.Event)
		buf = binary.LittleEndian.AppendUint64(buf[:0], uint64(r.CreatedDatetime.UnixMicro()))
	}
	h.Write(buf)
	return h.Sum64()
}

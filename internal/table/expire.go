package table

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/retry"
)

// Snapshot expiry keeps exactly-once. Commit recognises a batch by the
// summaries of the current snapshot's ancestors; expiring a snapshot would
// forget its batch, and a replay of it would land again. So the expiry
// that removes snapshots records, in the same commit, the batches they
// named in a table property, PropExpiredBatches, which Commit reads after
// the ancestors. The list is bounded (ExpireOptions.RememberBatches, the
// newest kept): the window of exactly-once becomes the kept snapshots plus
// that many expired batches.

// PropExpiredBatches is the table property listing the batches of expired
// snapshots, oldest first: "source/first/last/hash/snapshot" entries
// separated by ','. Sources and positions hold no '/' or ','.
const PropExpiredBatches = "eventlake.batches.expired"

// DefaultRememberBatches bounds PropExpiredBatches: about 50 bytes each,
// in every metadata file the table writes from then on.
const DefaultRememberBatches = 2000

// ExpireOptions tune ExpireSnapshots. Zero values mean defaults.
type ExpireOptions struct {
	// OlderThan: snapshots committed longer ago than this may expire
	// (iceberg-go's default, 5 days, if zero).
	OlderThan time.Duration
	// RetainLast snapshots of the main branch are kept whatever their age
	// (at least 1; 1 if zero).
	RetainLast int
	// RememberBatches bounds the expired batches kept in
	// PropExpiredBatches (DefaultRememberBatches).
	RememberBatches int

	step func(name string) error // before the commit; for tests
}

// ExpireResult says what ExpireSnapshots did.
type ExpireResult struct {
	Expired    int // snapshots removed
	Kept       int // snapshots left
	Batches    int // batches of expired snapshots now remembered in the property
	Remembered int // entries in PropExpiredBatches after the expiry
	Forgotten  int // entries dropped from it (the oldest, beyond RememberBatches)
	Attempts   int
}

// ExpireSnapshots removes old snapshots from the table's metadata (keeping
// the newest RetainLast) and records their batches in PropExpiredBatches in
// the same commit, so Commit still recognises them. It deletes no file:
// the data files, manifests and manifest lists only expired snapshots
// referenced are left to DeleteOrphans and its grace period, so a reader
// still planning on an expired snapshot can finish.
func (t *Table) ExpireSnapshots(ctx context.Context, opts ExpireOptions) (ExpireResult, error) {
	var res ExpireResult
	if opts.OlderThan < 0 {
		return res, errors.New("table: expire: a negative age")
	}
	if opts.RetainLast <= 0 {
		opts.RetainLast = 1
	}
	if opts.RememberBatches <= 0 {
		opts.RememberBatches = DefaultRememberBatches
	}
	for attempt := 0; ; attempt++ {
		tbl, err := t.Load(ctx)
		if err != nil {
			return res, err
		}
		if err := checkReplay(tbl); err != nil {
			return res, err
		}
		tx := tbl.NewTransaction()
		expOpts := []itable.ExpireSnapshotsOpt{itable.WithRetainLast(opts.RetainLast), itable.WithPostCommit(false)}
		if opts.OlderThan > 0 {
			expOpts = append(expOpts, itable.WithOlderThan(opts.OlderThan))
		}
		if err := tx.ExpireSnapshots(expOpts...); err != nil {
			return res, fmt.Errorf("table: expire snapshots of %s: %w", t.name(), err)
		}
		staged, err := tx.StagedTable()
		if err != nil {
			return res, fmt.Errorf("table: expire snapshots of %s: %w", t.name(), err)
		}
		kept := map[int64]bool{}
		for _, s := range staged.Metadata().Snapshots() {
			kept[s.SnapshotID] = true
		}
		var gone []itable.Snapshot
		for _, s := range tbl.Metadata().Snapshots() {
			if !kept[s.SnapshotID] {
				gone = append(gone, s)
			}
		}
		res.Expired, res.Kept = len(gone), len(kept)
		if len(gone) == 0 {
			return res, nil
		}
		list, added, forgotten := rememberBatches(tbl.Properties()[PropExpiredBatches], gone, opts.RememberBatches)
		res.Batches, res.Forgotten = added, forgotten
		res.Remembered = 0
		if list != "" {
			res.Remembered = strings.Count(list, ",") + 1
		}
		if err := tx.SetProperties(map[string]string{PropExpiredBatches: list}); err != nil {
			return res, fmt.Errorf("table: expire snapshots of %s: %w", t.name(), err)
		}
		if err := step(ctx, opts.step, "expire"); err != nil {
			return res, err
		}
		res.Attempts++
		_, err = tx.Commit(ctx)
		if err == nil {
			return res, nil
		}
		fresh, lerr := t.Load(ctx)
		if lerr != nil {
			return res, fmt.Errorf("table: expire snapshots of %s: %w", t.name(), errors.Join(err, lerr))
		}
		if !conflict(err, tbl, fresh) {
			return res, fmt.Errorf("table: expire snapshots of %s: %w", t.name(), err)
		}
		if res.Attempts >= t.attempts {
			return res, fmt.Errorf("%w: expire snapshots of %s, %d attempts: %w", ErrTooManyConflicts, t.name(), res.Attempts, err)
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return res, err
		}
	}
}

// expiredBatch is one entry of PropExpiredBatches.
type expiredBatch struct {
	source, first, last, hash string
	snapshot                  int64
}

func (e expiredBatch) String() string {
	return e.source + "/" + e.first + "/" + e.last + "/" + e.hash + "/" + strconv.FormatInt(e.snapshot, 10)
}

// parseExpired reads PropExpiredBatches; entries it cannot read are
// skipped (a hand-edited property must not stop commits).
func parseExpired(list string) []expiredBatch {
	if list == "" {
		return nil
	}
	var out []expiredBatch
	for _, s := range strings.Split(list, ",") {
		f := strings.Split(s, "/")
		if len(f) != 5 {
			continue
		}
		id, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, expiredBatch{source: f[0], first: f[1], last: f[2], hash: f[3], snapshot: id})
	}
	return out
}

// rememberBatches adds the batches of the expired snapshots, oldest first,
// to the list, and keeps the newest max entries. It returns the new list,
// how many batches it added and how many old entries it dropped.
func rememberBatches(list string, gone []itable.Snapshot, max int) (string, int, int) {
	old := parseExpired(list)
	have := map[string]bool{}
	for _, e := range old {
		have[e.source+"/"+e.first+"/"+e.last] = true
	}
	slices.SortFunc(gone, func(a, b itable.Snapshot) int {
		return cmp.Or(cmp.Compare(a.SequenceNumber, b.SequenceNumber), cmp.Compare(a.TimestampMs, b.TimestampMs))
	})
	added := 0
	for _, s := range gone {
		for _, e := range summaryBatches(s) {
			if have[e.source+"/"+e.first+"/"+e.last] {
				continue
			}
			have[e.source+"/"+e.first+"/"+e.last] = true
			old = append(old, e)
			added++
		}
	}
	forgotten := 0
	if len(old) > max {
		forgotten = len(old) - max
		old = old[forgotten:]
	}
	parts := make([]string, len(old))
	for i, e := range old {
		parts[i] = e.String()
	}
	return strings.Join(parts, ","), added, forgotten
}

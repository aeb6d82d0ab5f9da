// Package compact merges the small objects of each lake partition into few
// large ones and removes duplicate events, safely: new objects are written
// and verified before a manifest switches readers to them, and old objects
// are deleted only after that, so a crash at any step, or two compactions at
// once, never make a reader see an event twice or miss one. The readers'
// rule and the manifest live in package lake; the protocol is written up in
// docs/compaction.md.
//
// A partition is compacted in rounds, each in three stages: plan (plan.go:
// the latest manifest, the objects a round takes, the compacted objects it
// must read back), merge (merge.go: read, de-duplicate, sort, encode; no
// change to the store) and commit (commit.go: write, verify, create the
// manifest). Cleanup (cleanup.go) follows the last round.
package compact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventlake/eventlake/internal/lake"
)

// Options tune a compaction. The zero value compacts every partition with
// the defaults below.
type Options struct {
	// Prefix limits compaction to the partitions under it, e.g.
	// "event_type=payment/" or "event_type=payment/created_date=2026-11-27/"
	// (checked and completed by lake.PartitionPrefix).
	Prefix string
	// OlderThan leaves alone objects written less than this long ago.
	OlderThan time.Duration
	// TargetSize is the stored size of the objects written; 0 means 128 MiB.
	TargetSize int64
	// Format and Compression of the objects written; nil means the most
	// common among each round's inputs (so a lake stays one format, as its
	// Athena table needs).
	Format      *lake.Format
	Compression *lake.Compression
	// MaxRoundBytes bounds the uncompressed bytes of events held in memory
	// at once, across the partitions compacted at once (each gets its
	// share); a partition with more is compacted in several rounds. The
	// heap peaks at about twice this. 0 means 512 MiB.
	MaxRoundBytes int64
	// Grace is how long superseded objects, older manifests and abandoned
	// outputs are kept before they are deleted, so that a reader that
	// listed before a commit can still read what it listed.
	Grace time.Duration
	// Concurrency is how many partitions are compacted at once; 0 means 4.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called after each partition, finished or not
	// (Partition.Err).
	Progress func(Partition)

	// step, when set, is called before every step that changes the store;
	// an error stops the compaction there, as a crash would. For tests.
	step func(name string) error
	// minRoundBytes, when set, replaces the 1 MiB floor of a partition's
	// share of MaxRoundBytes. For tests: tiny rounds, more steps.
	minRoundBytes int64
}

// Partition is what happened to one partition.
type Partition struct {
	Partition     string `json:",omitempty"`
	Rounds        int    // manifests committed
	InputObjects  int    // objects merged
	InputBytes    int64  // their stored bytes
	OutputObjects int    // objects written
	OutputBytes   int64  // their stored bytes
	Events        int64  // events written
	Recompacted   int64  // of them, events merged again from compacted objects of earlier runs
	Duplicates    int64  // events dropped: their event_uuid was already kept
	Deleted       int    // superseded objects, old manifests and abandoned outputs deleted
	Pending       int    // superseded objects kept until the grace period ends
	Young         int    // objects left alone: written less than OlderThan before the run began, or during it
	Conflicts     int    // commits lost to another compaction (then planned again)
	Err           error  `json:"-"` // why the partition was not finished, if it was not
}

// Stats sums the partitions.
type Stats struct {
	Partitions int
	Partition  // totals; Partition.Partition is empty
	// Leftovers are the temporary files of crashed writers removed from a
	// local folder lake (lake.Sweeper).
	Leftovers lake.Swept
}

func (s *Stats) add(p Partition) {
	s.Partitions++
	s.Rounds += p.Rounds
	s.InputObjects += p.InputObjects
	s.InputBytes += p.InputBytes
	s.OutputObjects += p.OutputObjects
	s.OutputBytes += p.OutputBytes
	s.Events += p.Events
	s.Recompacted += p.Recompacted
	s.Duplicates += p.Duplicates
	s.Deleted += p.Deleted
	s.Pending += p.Pending
	s.Young += p.Young
	s.Conflicts += p.Conflicts
}

// maxConflicts bounds how often one partition is planned again after losing
// a commit to another compaction.
const maxConflicts = 10

// Run compacts the lake r. Partitions are independent: one that fails does
// not stop the others, and Run returns their errors joined.
func Run(ctx context.Context, r lake.ReadWriteStore, opts *Options) (Stats, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.TargetSize <= 0 {
		o.TargetSize = 128 << 20
	}
	if o.MaxRoundBytes <= 0 {
		o.MaxRoundBytes = 512 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var err error
	if o.Prefix, err = lake.PartitionPrefix(o.Prefix); err != nil {
		return Stats{}, err
	}
	parts, err := Partitions(ctx, r, o.Prefix)
	if err != nil {
		return Stats{}, err
	}
	// Objects written after this point are the next run's: a run that
	// chased objects landing meanwhile might never end.
	cutoff := o.Now().Add(-o.OlderThan)
	var (
		mu    sync.Mutex
		stats Stats
		errs  []error
	)
	if sw, ok := r.(lake.Sweeper); ok {
		var err error
		if stats.Leftovers, err = sw.Sweep(ctx, o.Prefix); err != nil {
			errs = append(errs, fmt.Errorf("remove temporary files of crashed runs: %w", err))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, p := range parts {
		g.Go(func() error {
			c := &compactor{r: r, o: &o, cutoff: cutoff, res: Partition{Partition: p}, wrote: map[string]bool{}}
			err := c.partition(gctx, p)
			mu.Lock()
			defer mu.Unlock()
			stats.add(c.res)
			if err != nil {
				errs = append(errs, fmt.Errorf("partition %s: %w", p, err))
			}
			c.res.Err = err
			if o.Progress != nil {
				o.Progress(c.res)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		errs = append(errs, err)
	}
	return stats, errors.Join(errs...)
}

// Partitions lists the partition folders under prefix that hold objects or
// a manifest, in order.
func Partitions(ctx context.Context, r lake.ReadWriteStore, prefix string) ([]string, error) {
	seen := map[string]bool{}
	for e, err := range r.List(ctx, cmp.Or(prefix, "event_type=")) {
		if err != nil {
			return nil, err
		}
		seen[lake.PartitionOf(e.Key)] = true
	}
	ms, err := lake.Manifests(ctx, r, prefix)
	if err != nil {
		return nil, err
	}
	for p := range ms {
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		if strings.HasPrefix(p, "event_type=") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

type compactor struct {
	r      lake.ReadWriteStore
	o      *Options
	cutoff time.Time // objects written after it are left to the next run
	res    Partition
	// wrote holds the outputs this run committed: a round never merges
	// them again (they are as large as a round could make them, or the
	// last of the partition), so no event is merged twice by one run.
	wrote map[string]bool
	// known holds the event_uuids of live compacted objects that are not
	// merged again, by object, read once per partition.
	known map[string]map[string]struct{}
}

func (c *compactor) step(name string) error {
	if c.o.step == nil {
		return nil
	}
	return c.o.step(c.res.Partition + " " + name)
}

func (c *compactor) partition(ctx context.Context, part string) error {
	for {
		done, err := c.round(ctx, part)
		if errors.Is(err, errConflict) {
			c.res.Conflicts++
			if c.res.Conflicts > maxConflicts {
				return fmt.Errorf("lost %d commits in a row to other compactions", c.res.Conflicts)
			}
			continue
		}
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	return c.cleanup(ctx, part)
}

var errConflict = errors.New("another compaction committed first")

// round is one plan / merge / commit cycle: plan reads the manifest and
// lists the partition, take and merge read the inputs and make the
// outputs (both change nothing), commit writes, verifies and commits them.
// done means there was nothing (more) to merge.
func (c *compactor) round(ctx context.Context, part string) (done bool, err error) {
	p, err := c.plan(ctx, part)
	if err != nil {
		return false, err
	}
	c.res.Young = p.young
	if p.idle() {
		return true, nil
	}
	inputs, rawBytes, err := c.take(ctx, p)
	if err != nil {
		return false, err
	}
	if len(inputs) == 0 {
		return true, nil
	}
	m, err := c.merge(ctx, p, inputs, rawBytes)
	if err != nil {
		return false, err
	}
	return false, c.commit(ctx, p, inputs, m)
}

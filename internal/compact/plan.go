package compact

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"

	"github.com/eventlake/eventlake/internal/lake"
)

// plan is what a round starts from: the partition's latest manifest and its
// objects, sorted by what the round may do with them. It changes nothing.
type plan struct {
	part string
	prev *lake.Manifest         // the latest manifest; nil before the first commit
	live map[string]lake.Output // prev's live compacted objects, by key
	// plain are the visible objects not compacted, written before the
	// run's cutoff: to merge.
	plain []lake.Entry
	// small are the live compacted objects under half the target size
	// that this run did not write: to merge again.
	small []lake.Entry
	// full are the other live compacted objects: not merged, but they may
	// hold a copy of an event the round merges.
	full  []string
	young int // objects written after the cutoff: the next run's
}

// seq is the latest committed manifest's seq, 0 if none.
func (p *plan) seq() int64 {
	if p.prev == nil {
		return 0
	}
	return p.prev.Seq
}

// idle says there is nothing to merge: no plain object, and fewer than two
// small compacted ones.
func (p *plan) idle() bool { return len(p.plain) == 0 && len(p.small) < 2 }

// plan reads the partition's latest manifest and lists the partition.
func (c *compactor) plan(ctx context.Context, part string) (*plan, error) {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil {
		return nil, err
	}
	p := &plan{part: part, prev: m, live: map[string]lake.Output{}}
	if m != nil {
		for _, o := range m.Live {
			p.live[o.Key] = o
		}
	}
	for e, err := range c.r.List(ctx, part) {
		if err != nil {
			return nil, err
		}
		if lake.PartitionOf(e.Key) != part || strings.HasPrefix(path.Base(e.Key), ".") {
			continue // a deeper folder, or a hidden file
		}
		if _, _, ok := lake.FormatOf(e.Key); !ok {
			continue // not an event object; left alone
		}
		switch {
		case lake.IsCompacted(e.Key):
			if _, ok := p.live[e.Key]; !ok {
				continue // abandoned or superseded; cleanup's business
			}
			if e.Size < c.o.TargetSize/2 && !c.wrote[e.Key] {
				p.small = append(p.small, e)
			} else {
				p.full = append(p.full, e.Key)
			}
		case !m.Visible(e.Key):
			// superseded: cleanup's business
		case e.ModTime.After(c.cutoff):
			p.young++
		default:
			p.plain = append(p.plain, e)
		}
	}
	return p, nil
}

// roundBytes is this partition's share of MaxRoundBytes, at least 1 MiB.
func (c *compactor) roundBytes() int64 {
	return max(c.o.MaxRoundBytes/int64(c.o.Concurrency), cmp.Or(c.o.minRoundBytes, 1<<20))
}

// take reads the round's inputs: the candidates in source order (live
// compacted objects first, then the others by name) up to the round's
// memory bound. A round must merge at least two objects, or one not yet
// compacted: when a small compacted object fills the bound alone, the
// small ones are too big to merge with, count as full, and the round takes
// the plain objects alone. No inputs: nothing (more) to merge.
func (c *compactor) take(ctx context.Context, p *plan) ([]*input, int64, error) {
	inputs, rawBytes, err := c.read(ctx, slices.Concat(p.small, p.plain))
	if err != nil {
		return nil, 0, err
	}
	if len(inputs) == 1 && lake.IsCompacted(inputs[0].Key) {
		if len(p.plain) == 0 {
			return nil, 0, nil
		}
		for _, e := range p.small {
			p.full = append(p.full, e.Key)
		}
		return c.read(ctx, p.plain)
	}
	return inputs, rawBytes, nil
}

// readBack names the live compacted objects the round does not merge that
// can hold a copy of one of its events, whose created_at is in [lo, hi]: a
// copy has its event's created_at, so only objects whose created_at range
// meets it (or that have no range in the manifest) can.
func (p *plan) readBack(lo, hi int64) []string {
	var keys []string
	for _, key := range p.full {
		if o := p.live[key]; o.LastCreated == 0 && o.FirstCreated == 0 || o.FirstCreated <= hi && o.LastCreated >= lo {
			keys = append(keys, key)
		}
	}
	return keys
}

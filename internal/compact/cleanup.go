package compact

import (
	"context"
	"fmt"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
)

// cleanup deletes, once the grace period has passed, the objects the
// latest manifest supersedes and the manifests before it; and compacted
// objects that can no longer become live (a crashed or outrun
// compaction's): those named for a manifest seq already committed.
func (c *compactor) cleanup(ctx context.Context, part string) error {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil || m == nil {
		return err
	}
	seqs, err := lake.Manifests(ctx, c.r, part)
	if err != nil {
		return err
	}
	now := c.o.Now()
	expired := func(t time.Time) bool { return !now.Before(t.Add(c.o.Grace)) }
	superseded := map[string]time.Time{}
	for _, x := range m.Superseded {
		superseded[x.Key] = x.Since
	}
	var del []string
	pending := 0
	for e, err := range c.r.List(ctx, part) {
		if err != nil {
			return err
		}
		if lake.PartitionOf(e.Key) != part {
			continue
		}
		if since, ok := superseded[e.Key]; ok {
			if expired(since) {
				del = append(del, e.Key)
			} else {
				pending++
			}
			continue
		}
		if lake.IsCompacted(e.Key) && !m.Visible(e.Key) {
			// An output only the manifest seq in its name could make
			// live; once that seq is taken by another, no run can.
			if seq, ok := lake.CompactedSeq(e.Key); ok && seq <= m.Seq {
				del = append(del, e.Key)
			}
		}
	}
	if expired(m.Created) {
		for _, seq := range seqs[part] {
			if seq < m.Seq {
				del = append(del, lake.ManifestKey(part, seq))
			}
		}
	}
	c.res.Pending = pending
	for i, key := range del {
		if err := c.step(fmt.Sprintf("delete %d", i)); err != nil {
			return err
		}
		if err := c.r.Delete(ctx, key); err != nil {
			return err
		}
		c.res.Deleted++
	}
	return nil
}

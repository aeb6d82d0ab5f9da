package compact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
)

// commit writes the round's outputs, reads them back, and creates the
// manifest that makes them live and supersedes the inputs. Each change to
// the store is a step (a crash hook): "write N", "verify", "commit". A
// commit lost to another compaction removes what readers will not see and
// returns errConflict.
func (c *compactor) commit(ctx context.Context, p *plan, inputs []*input, m *merged) error {
	outputs := m.outputs
	for i := range outputs {
		if err := c.step(fmt.Sprintf("write %d", i)); err != nil {
			return err
		}
		if err := c.write(ctx, &outputs[i]); err != nil {
			return err
		}
	}
	if err := c.step("verify"); err != nil {
		return err
	}
	if err := c.verify(ctx, outputs); err != nil {
		return err
	}
	next := p.next(c.o.Now().UTC(), inputs, outputs)
	if err := c.step("commit"); err != nil {
		return err
	}
	err := c.r.Create(ctx, lake.ManifestKey(p.part, next.Seq), next.Encode())
	if errors.Is(err, lake.ErrExist) {
		return c.abandon(ctx, p.part, outputs)
	}
	if err != nil {
		return err
	}
	c.record(p, inputs, m)
	return nil
}

// write creates an output. One already there (a crashed or concurrent run
// of the same plan) must hold the same bytes.
func (c *compactor) write(ctx context.Context, o *output) error {
	err := c.r.Create(ctx, o.Key, o.body)
	if !errors.Is(err, lake.ErrExist) {
		return err
	}
	have, err := c.r.Read(ctx, o.Key)
	if errors.Is(err, lake.ErrNotExist) {
		// Deleted as abandoned by a run of the same plan that lost the
		// commit to another: this run cannot commit either.
		return errConflict
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(have, o.body) {
		return fmt.Errorf("%s exists with other content than this plan makes: refusing to commit", o.Key)
	}
	return nil
}

// verify reads every output back and checks its bytes and its events.
func (c *compactor) verify(ctx context.Context, outs []output) error {
	for _, o := range outs {
		body, err := c.r.Read(ctx, o.Key)
		if errors.Is(err, lake.ErrNotExist) {
			// Deleted by a run of the same plan that lost the commit to
			// another: this run cannot commit either.
			return errConflict
		}
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != o.SHA256 {
			return fmt.Errorf("verify %s: stored bytes differ from the bytes written", o.Key)
		}
		lines, err := lake.Lines(o.Key, body)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if int64(len(lines)) != o.Events {
			return fmt.Errorf("verify %s: reads back %d events, wrote %d", o.Key, len(lines), o.Events)
		}
	}
	return nil
}

// next is the manifest that follows the plan's: the live compacted objects
// not merged, then the outputs; the objects superseded before, then the
// inputs, since now.
func (p *plan) next(now time.Time, inputs []*input, outputs []output) *lake.Manifest {
	next := &lake.Manifest{Partition: p.part, Seq: p.seq() + 1, Created: now}
	merged := map[string]bool{}
	for _, in := range inputs {
		merged[in.Key] = true
	}
	if p.prev != nil {
		for _, o := range p.prev.Live {
			if !merged[o.Key] {
				next.Live = append(next.Live, o)
			}
		}
		next.Superseded = append(next.Superseded, p.prev.Superseded...)
	}
	for _, o := range outputs {
		next.Live = append(next.Live, o.Output)
	}
	for _, in := range inputs {
		next.Superseded = append(next.Superseded, lake.Superseded{Key: in.Key, Since: now})
	}
	return next
}

// abandon removes this round's outputs after another compaction committed
// first, except those the winner's manifest made live (the same plan makes
// the same objects).
func (c *compactor) abandon(ctx context.Context, part string, outs []output) error {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if m.Visible(o.Key) {
			continue
		}
		if err := c.r.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return errConflict
}

// record counts a committed round in the partition's result, and marks its
// outputs as this run's, never merged again by it. Only a committed round
// counts: one lost to another compaction, or stopped, dropped nothing.
func (c *compactor) record(p *plan, inputs []*input, m *merged) {
	outputs := m.outputs
	c.res.Rounds++
	c.res.Duplicates += m.duplicates
	c.res.InputObjects += len(inputs)
	c.res.InputBytes += storedBytes(inputs)
	c.res.OutputObjects += len(outputs)
	for _, o := range outputs {
		c.res.OutputBytes += o.Bytes
		c.res.Events += o.Events
	}
	for _, in := range inputs {
		if lake.IsCompacted(in.Key) {
			c.res.Recompacted += p.live[in.Key].Events
		}
	}
	for _, o := range outputs {
		c.wrote[o.Key] = true
	}
}

package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/lake"
)

// part is one object of a batch being filled, in fixed-size blocks: no
// buffer ever grows by copying, and blocks are reused batch after batch.
type part struct {
	dir    string
	dead   bool
	blocks [][]byte
	events int
	rows   []lake.Row // the events' typed rows, when the sink wants them
}

// blockSize is the size of the blocks parts are made of.
const blockSize = 128 << 10

// fill appends data to body, a list of blocks, taking a new block from get
// when the last is full: what is already there is never copied again.
func fill(body [][]byte, data []byte, get func() []byte) [][]byte {
	for len(data) > 0 {
		n := len(body) - 1
		if n < 0 || len(body[n]) == cap(body[n]) {
			body = append(body, get())
			n++
		}
		blk := body[n]
		k := copy(blk[len(blk):cap(blk)], data)
		body[n] = blk[:len(blk)+k]
		data = data[k:]
	}
	return body
}

// blocks is a free list of blocks.
type blocks struct {
	mu   sync.Mutex
	free [][]byte
}

func (b *blocks) get() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		blk := b.free[n-1]
		b.free = b.free[:n-1]
		return blk
	}
	return make([]byte, 0, blockSize)
}

func (b *blocks) put(list [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, blk := range list {
		b.free = append(b.free, blk[:0])
	}
}

// batch is a run of consecutive lines that will be written together.
type batch struct {
	first, last int64
	lines       int
	bytes       int
	hash        *xxhash.Digest
	parts       map[string]*part
	dups        int64
}

func newBatch() *batch {
	return &batch{hash: xxhash.New(), parts: map[string]*part{}}
}

// collector puts results back in input order, removes duplicates and cuts
// batches.
type collector struct {
	r       *Runner
	free    chan *work
	cur     *batch
	seen    dedupe
	flushCh chan *batch
	blocks  blocks
	timer   *time.Timer
}

func (r *Runner) newCollector(free chan *work) *collector {
	c := &collector{
		r:       r,
		free:    free,
		cur:     newBatch(),
		seen:    newDedupe(),
		flushCh: make(chan *batch),
		timer:   time.NewTimer(time.Hour),
	}
	c.timer.Stop()
	return c
}

func (c *collector) collect(ctx context.Context, order chan *work) {
	for {
		select {
		case wk, ok := <-order:
			if !ok {
				c.cut()
				return
			}
			<-wk.done
			c.consume(wk)
		case <-c.timer.C:
			c.cut()
		case <-ctx.Done():
			// Take what was already read, then stop.
			for {
				select {
				case wk, ok := <-order:
					if ok {
						<-wk.done
						c.consume(wk)
						continue
					}
				default:
				}
				c.cut()
				return
			}
		}
	}
}

func (c *collector) consume(wk *work) {
	pol := c.r.cfg.Batch
	data := wk.chunk.Data
	line := wk.chunk.Line
	hashFrom := 0
	var counts lineCounts
	for _, g := range wk.groups {
		g.from, g.pos, g.pending, g.row = 0, 0, 0, 0
	}
	for i := range wk.recs {
		rc := &wk.recs[i]
		b := c.cur
		if b.lines == 0 {
			b.first = line
			if pol.Period > 0 {
				c.timer.Reset(pol.Period)
			}
		}
		b.lines++
		lineStart := 0
		if i > 0 {
			lineStart = int(wk.recs[i-1].end)
		}
		b.bytes += int(rc.end) - lineStart
		counts.add(rc.kind)
		switch rc.kind {
		case kindEvent:
			g := wk.groups[rc.group]
			if !c.seen.add(rc.uuid) {
				// Move what came before the duplicate, then skip it.
				g.pos = int(rc.outStart)
				c.move(g)
				g.from, g.pos = int(rc.outEnd), int(rc.outEnd)
				if c.r.rows {
					g.row++ // the duplicate's
				}
				b.dups++
				break
			}
			g.pos = int(rc.outEnd)
			g.pending++
		case kindDead:
			g := wk.groups[rc.group]
			g.pos = int(rc.outEnd)
			g.pending++
		}
		b.last = line
		line++
		if b.lines >= pol.Events || b.bytes >= pol.Bytes {
			for _, g := range wk.groups {
				c.move(g)
			}
			b.hash.Write(data[hashFrom:rc.end])
			hashFrom = int(rc.end)
			c.cut()
		}
	}
	for _, g := range wk.groups {
		c.move(g)
	}
	if hashFrom < len(data) {
		c.cur.hash.Write(data[hashFrom:])
	}
	r := c.r
	r.mu.Lock()
	counts.addTo(&r.stats)
	if wk.chunk.Cut > 0 {
		r.stats.BytesIn += wk.chunk.Cut + 1
	} else {
		r.stats.BytesIn += int64(len(data))
	}
	r.mu.Unlock()
	c.free <- wk
}

// move appends the group's run data[from:pos] to the current batch.
func (c *collector) move(g *group) {
	if g.pos <= g.from {
		return
	}
	p, ok := c.cur.parts[g.dir]
	if !ok {
		p = &part{dir: g.dir, dead: g.dead}
		c.cur.parts[g.dir] = p
	}
	p.blocks = fill(p.blocks, g.data[g.from:g.pos], c.blocks.get)
	p.events += g.pending
	if c.r.rows && !g.dead {
		p.rows = append(p.rows, g.rows[g.row:g.row+g.pending]...)
		g.row += g.pending
	}
	g.from, g.pending = g.pos, 0
}

// cut hands the current batch to the flusher and starts a new one.
func (c *collector) cut() {
	c.timer.Stop()
	b := c.cur
	if b.lines == 0 {
		return
	}
	r := c.r
	r.mu.Lock()
	r.stats.Duplicates += b.dups
	r.mu.Unlock()
	c.flushCh <- b
	c.cur = newBatch()
	c.seen.rotate()
}

// flushLoop writes batches in order. After a failure it stops writing and
// counts the rest as unwritten.
func (c *collector) flushLoop(ctx context.Context, cancel context.CancelCauseFunc) error {
	var failed error
	for b := range c.flushCh {
		objs := make([]lake.Object, 0, len(b.parts))
		for _, p := range b.parts {
			// Each object's blocks go back to the free list as soon as it is
			// written, for the batch filling meanwhile.
			release := func() { c.blocks.put(p.blocks) }
			objs = append(objs, lake.Object{Dir: p.dir, Dead: p.dead, Body: p.blocks, Events: p.events, Rows: p.rows, Done: release})
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Dir < objs[j].Dir })
		name := lake.Name{Source: c.r.cfg.SourceID, First: lake.LineNumber(b.first), Last: lake.LineNumber(b.last), Hash: b.hash.Sum64()}
		tried := failed == nil
		if tried {
			if err := c.r.w.Write(ctx, name, objs); err != nil {
				failed = fmt.Errorf("write batch of lines %d-%d: %w", b.first, b.last, err)
				cancel(failed)
			}
		}
		r := c.r
		r.mu.Lock()
		r.stats.Batches++
		if tried {
			r.stats.tally(objs, r.partitions)
		} else {
			for _, o := range objs {
				r.stats.Unwritten += int64(o.Events)
				o.Done()
			}
		}
		r.mu.Unlock()
	}
	return failed
}

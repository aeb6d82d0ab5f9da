// Package pipeline runs the data path on one machine: chunks of lines from
// a source are enriched on every core, then, in input order, de-duplicated
// and cut into batches, and each batch is written to the lake as one object
// per partition plus one per dead-letter reason. Memory stays bounded
// whatever the input size: a fixed number of chunks is in flight, one batch
// fills while the one before it is written.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/deadletter"
	"github.com/eventlake/eventlake/event"
	"github.com/eventlake/eventlake/lake"
	"github.com/eventlake/eventlake/source"
)

// Batch defaults. A batch is cut at whichever limit comes first.
const (
	DefaultBatchEvents = 1_000_000
	DefaultBatchBytes  = 64 << 20
)

// BatchPolicy says when a batch is cut. Count and bytes depend only on the
// input, so re-running the same input gives the same batches and the same
// object names; a period depends on timing, so use it only for streams.
type BatchPolicy struct {
	Events int           // lines per batch at most; 0 means DefaultBatchEvents
	Bytes  int           // input bytes per batch, cut once reached; 0 means DefaultBatchBytes
	Period time.Duration // cut this long after the batch's first line; 0 means never
}

// Config configures a Runner. Zero values mean defaults.
type Config struct {
	// Source names the input in dead-letter records ("events.jsonl:12").
	Source string
	// SourceID is the object-name stem; empty means lake.SourceStem(Source).
	SourceID string
	Layout   lake.Layout
	Event    event.Options
	Batch    BatchPolicy
	// Workers enriching at once; 0 means one per core.
	Workers int
	// ChunkSize and MaxLine tune the line reader (see source).
	ChunkSize, MaxLine int
}

// Stats count what a run did. In = Written + AlreadyPresent + DeadLetters +
// Duplicates + Unwritten.
type Stats struct {
	Lines          int64 // lines read, blank ones included
	Blank          int64 // lines with only whitespace: not events, skipped
	In             int64 // events read (non-blank lines)
	Written        int64 // events in objects this run created
	AlreadyPresent int64 // events in objects that were already in the lake (a re-run)
	DeadLetters    int64
	DeadByReason   map[event.Reason]int64
	Duplicates     int64 // repeated event_uuid, written once
	Unwritten      int64 // read but not written because the destination failed
	Batches        int64
	Objects        int64 // objects created (partitions and dead letters)
	ObjectsPresent int64 // objects found already there
	Partitions     int   // distinct partitions written to
	BytesIn        int64 // input bytes
	BytesOut       int64 // bytes stored (compressed)
	Elapsed        time.Duration
	Interrupted    bool // stopped by the context (a signal) after flushing
}

func (s Stats) clone() Stats {
	m := make(map[event.Reason]int64, len(s.DeadByReason))
	for k, v := range s.DeadByReason {
		m[k] = v
	}
	s.DeadByReason = m
	return s
}

// Runner runs the pipeline into one lake writer.
type Runner struct {
	cfg   Config
	w     *lake.Writer
	seeds [2]maphash.Seed

	mu         sync.Mutex
	stats      Stats
	partitions map[string]struct{}
	start      time.Time
}

// New returns a Runner writing with w.
func New(w *lake.Writer, cfg Config) (*Runner, error) {
	if w == nil {
		return nil, errors.New("pipeline: nil writer")
	}
	if cfg.Source == "" {
		cfg.Source = "input"
	}
	if cfg.SourceID == "" {
		cfg.SourceID = lake.SourceStem(cfg.Source)
	} else if lake.SourceStem(cfg.SourceID) != cfg.SourceID {
		return nil, fmt.Errorf("pipeline: source id %q may hold only letters, digits, '_' and '-' (at most 64)", cfg.SourceID)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch.Events <= 0 {
		cfg.Batch.Events = DefaultBatchEvents
	}
	if cfg.Batch.Bytes <= 0 {
		cfg.Batch.Bytes = DefaultBatchBytes
	}
	if cfg.Event.MaxSize <= 0 {
		cfg.Event.MaxSize = event.DefaultMaxSize
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = source.DefaultMaxLine
	}
	if cfg.MaxLine <= cfg.Event.MaxSize {
		cfg.MaxLine = cfg.Event.MaxSize + 1
	}
	return &Runner{
		cfg:        cfg,
		w:          w,
		seeds:      [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		partitions: map[string]struct{}{},
		stats:      Stats{DeadByReason: map[event.Reason]int64{}},
	}, nil
}

// Stats returns the counts so far; safe to call while Run runs.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats.clone()
	if !r.start.IsZero() {
		s.Elapsed = time.Since(r.start)
	}
	return s
}

// recKind says what a line turned out to be.
type recKind uint8

const (
	kindEvent recKind = iota
	kindDead
	kindBlank
)

// rec is one line's result, in input order.
type rec struct {
	kind     recKind
	end      uint32 // offset just past the line (and its newline) in the chunk
	outStart uint32 // the enriched event or dead-letter record in work.out
	outEnd   uint32
	dir      string // partition folder, or reason=<reason>/ for a dead letter
	reason   event.Reason
	uuid     [16]byte
}

// work is one chunk on its way through the workers to the collector.
type work struct {
	chunk source.Chunk
	buf   []byte // the chunk's buffer, reused
	out   []byte
	recs  []rec
	done  chan struct{}
}

// Run reads in to its end (or until ctx is done), writes everything read,
// and returns the counts. A cancelled ctx is not an error: what was read is
// flushed and Stats.Interrupted is set. Bad data is never an error; a
// failing destination or input is.
func (r *Runner) Run(ctx context.Context, in io.Reader) (Stats, error) {
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()

	inflight := 4 * r.cfg.Workers
	free := make(chan *work, inflight)
	for range inflight {
		free <- &work{done: make(chan struct{}, 1)}
	}
	jobs := make(chan *work, inflight)
	order := make(chan *work, inflight)

	// internal cancel: a write failure stops reading.
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var readErr error
	go func() {
		defer close(order)
		defer close(jobs)
		lr := source.NewLineReader(in, &source.LineReaderOptions{ChunkSize: r.cfg.ChunkSize, MaxLine: r.cfg.MaxLine})
		for {
			var wk *work
			select {
			case wk = <-free:
			case <-ictx.Done():
				return
			}
			c, err := lr.Next(wk.buf)
			if err == io.EOF {
				return
			}
			if err != nil {
				readErr = err
				cancel(err)
				return
			}
			wk.chunk, wk.buf = c, c.Data
			order <- wk
			jobs <- wk
		}
	}()

	var wg sync.WaitGroup
	for range r.cfg.Workers {
		p := r.newProc()
		wg.Go(func() {
			for wk := range jobs {
				p.process(wk)
				wk.done <- struct{}{}
			}
		})
	}

	c := r.newCollector(free)
	flushErr := make(chan error, 1)
	go func() { flushErr <- c.flushLoop(context.WithoutCancel(ctx), cancel) }()
	c.collect(ictx, order)
	close(c.flushCh)
	err := <-flushErr
	if ictx.Err() == nil {
		// Workers end once the reader has closed jobs. After an interrupt
		// the reader may be blocked on a terminal; it is left behind.
		wg.Wait()
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Elapsed = time.Since(r.start)
	r.stats.Partitions = len(r.partitions)
	if err == nil && ctx.Err() != nil {
		r.stats.Interrupted = true
	}
	if err == nil && readErr != nil {
		err = readErr
	}
	return r.stats.clone(), err
}

// proc is one worker's state.
type proc struct {
	r       *Runner
	enr     *event.Enricher
	scratch []byte
	dirs    map[string]string // partition folders seen, to share one string each
}

func (r *Runner) newProc() *proc {
	opts := r.cfg.Event
	return &proc{r: r, enr: event.NewEnricher(&opts), dirs: map[string]string{}}
}

func (p *proc) process(wk *work) {
	data := wk.chunk.Data
	out := wk.out[:0]
	recs := wk.recs[:0]
	line := wk.chunk.Line
	for pos := 0; pos < len(data); line++ {
		end := len(data)
		if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
			end = pos + i
		}
		// A chunk is at most the reader's limits, far below 4 GiB.
		raw := data[pos:end]
		if end < len(data) {
			end++
		}
		pos = end
		start := len(out)
		var info event.Info
		var err error
		out, info, err = p.enr.Enrich(out, raw)
		switch {
		case err == nil:
			out = append(out, '\n')
			p.scratch = p.r.cfg.Layout.AppendPath(p.scratch[:0], info)
			dir, ok := p.dirs[string(p.scratch)]
			if !ok {
				dir = string(p.scratch)
				p.dirs[dir] = dir
			}
			var id [16]byte
			h1 := maphash.Bytes(p.r.seeds[0], info.UUID)
			h2 := maphash.Bytes(p.r.seeds[1], info.UUID)
			for i := range 8 {
				id[i], id[8+i] = byte(h1>>(8*i)), byte(h2>>(8*i))
			}
			recs = append(recs, rec{kind: kindEvent, end: uint32(end), outStart: uint32(start), outEnd: uint32(len(out)), dir: dir, uuid: id})
		case errors.Is(err, event.ErrBlank):
			recs = append(recs, rec{kind: kindBlank, end: uint32(end)})
		default:
			var ee *event.Error
			if !errors.As(err, &ee) {
				ee = &event.Error{Reason: event.ReasonInvalidJSON, Msg: err.Error()}
			}
			size := int64(len(raw))
			if wk.chunk.Cut > 0 {
				size = wk.chunk.Cut
				if ee.Reason != event.ReasonTooLarge {
					ee = &event.Error{Reason: event.ReasonTooLarge, Msg: fmt.Sprintf("event is %d bytes, more than the limit of %d", size, p.r.cfg.Event.MaxSize)}
				}
			}
			src := p.r.cfg.Source + ":" + strconv.FormatInt(line, 10)
			out = deadletter.Append(out, deadletter.New(string(ee.Reason), ee.Msg, src, raw, size))
			out = append(out, '\n')
			recs = append(recs, rec{kind: kindDead, end: uint32(end), outStart: uint32(start), outEnd: uint32(len(out)), dir: "reason=" + string(ee.Reason) + "/", reason: ee.Reason})
		}
	}
	wk.out, wk.recs = out, recs
}

// part is one object of a batch being filled.
type part struct {
	dir    string
	dead   bool
	data   []byte
	events int
}

// batch is a run of consecutive lines that will be written together.
type batch struct {
	first, last int64
	lines       int
	bytes       int
	hash        *xxhash.Digest
	parts       map[string]*part
	dead        map[event.Reason]int64
	dups        int64
	events      int64
}

func newBatch() *batch {
	return &batch{hash: xxhash.New(), parts: map[string]*part{}, dead: map[event.Reason]int64{}}
}

// collector puts results back in input order, removes duplicates and cuts
// batches.
type collector struct {
	r       *Runner
	free    chan *work
	cur     *batch
	seen    dedupe
	flushCh chan *batch
	spare   chan []byte // part buffers given back by the flusher
	timer   *time.Timer
}

func (r *Runner) newCollector(free chan *work) *collector {
	c := &collector{
		r:       r,
		free:    free,
		cur:     newBatch(),
		seen:    dedupe{cur: map[[16]byte]struct{}{}, prev: map[[16]byte]struct{}{}},
		flushCh: make(chan *batch),
		spare:   make(chan []byte, 4096),
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
	var blank, events int64
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
		switch rc.kind {
		case kindEvent:
			events++
			if !c.seen.add(rc.uuid) {
				b.dups++
				break
			}
			c.part(rc.dir, false).append(wk.out[rc.outStart:rc.outEnd])
			b.events++
		case kindDead:
			events++
			c.part(rc.dir, true).append(wk.out[rc.outStart:rc.outEnd])
			b.dead[rc.reason]++
		case kindBlank:
			blank++
		}
		b.last = line
		line++
		if b.lines >= pol.Events || b.bytes >= pol.Bytes {
			b.hash.Write(data[hashFrom:rc.end])
			hashFrom = int(rc.end)
			c.cut()
		}
	}
	if hashFrom < len(data) {
		c.cur.hash.Write(data[hashFrom:])
	}
	r := c.r
	r.mu.Lock()
	r.stats.Lines += int64(len(wk.recs))
	r.stats.Blank += blank
	r.stats.In += events
	if wk.chunk.Cut > 0 {
		r.stats.BytesIn += wk.chunk.Cut + 1
	} else {
		r.stats.BytesIn += int64(len(data))
	}
	r.mu.Unlock()
	c.free <- wk
}

func (c *collector) part(dir string, dead bool) *part {
	p, ok := c.cur.parts[dir]
	if !ok {
		p = &part{dir: dir, dead: dead}
		select {
		case p.data = <-c.spare:
		default:
		}
		c.cur.parts[dir] = p
	}
	return p
}

func (p *part) append(b []byte) {
	p.data = append(p.data, b...)
	p.events++
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
			objs = append(objs, lake.Object{Dir: p.dir, Dead: p.dead, Data: p.data, Events: p.events})
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Dir < objs[j].Dir })
		name := lake.Name{Source: c.r.cfg.SourceID, First: b.first, Last: b.last, Hash: b.hash.Sum64()}
		var err error
		if failed == nil {
			err = c.r.w.Write(ctx, name, objs)
			if err != nil {
				failed = fmt.Errorf("write batch of lines %d-%d: %w", b.first, b.last, err)
				cancel(failed)
			}
		}
		r := c.r
		r.mu.Lock()
		r.stats.Batches++
		for reason, n := range b.dead {
			if failed != nil {
				r.stats.Unwritten += n
				continue
			}
			r.stats.DeadByReason[reason] += n
			r.stats.DeadLetters += n
		}
		for _, o := range objs {
			switch {
			case failed != nil:
				if !o.Dead {
					r.stats.Unwritten += int64(o.Events)
				}
			case o.Existed:
				r.stats.ObjectsPresent++
				if !o.Dead {
					r.stats.AlreadyPresent += int64(o.Events)
					r.partitions[o.Dir] = struct{}{}
				}
			default:
				r.stats.Objects++
				r.stats.BytesOut += int64(o.Size)
				if !o.Dead {
					r.stats.Written += int64(o.Events)
					r.partitions[o.Dir] = struct{}{}
				}
			}
		}
		r.mu.Unlock()
		for _, o := range objs {
			select {
			case c.spare <- o.Data[:0]:
			default:
			}
		}
	}
	return failed
}

// dedupe remembers event_uuid hashes (128 bits: a false match is beyond
// astronomically unlikely) of the current and the previous batch.
type dedupe struct{ cur, prev map[[16]byte]struct{} }

// add reports whether k is new, remembering it.
func (d *dedupe) add(k [16]byte) bool {
	if _, ok := d.prev[k]; ok {
		return false
	}
	if _, ok := d.cur[k]; ok {
		return false
	}
	d.cur[k] = struct{}{}
	return true
}

func (d *dedupe) rotate() {
	d.prev, d.cur = d.cur, d.prev
	clear(d.cur)
}

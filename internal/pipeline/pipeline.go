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
	"sync"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/source"
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
	// ChunkSize is the line reader's (see source). A line longer than
	// Event.MaxSize is a too_large dead letter holding its first MaxSize
	// bytes and its true size; the rest is skipped as it is read, so a giant
	// line costs no memory.
	ChunkSize int
}

// Runner runs the pipeline into one sink: a lake writer, or a table.
type Runner struct {
	cfg   Config
	w     Sink
	seeds [2]maphash.Seed
	rows  bool // hand event objects' typed rows to w (RowSink)

	mu         sync.Mutex
	stats      Stats
	partitions map[string]struct{}
	start      time.Time
}

// New returns a Runner writing batches to w (a *lake.Writer, or another
// Sink).
func New(w Sink, cfg Config) (*Runner, error) {
	if isNil(w) {
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
	rs, ok := w.(RowSink)
	return &Runner{
		cfg:        cfg,
		w:          w,
		rows:       ok && rs.WantsRows(),
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

// rec is one line's result, in input order.
type rec struct {
	kind     recKind
	group    uint32 // index in work.groups
	end      uint32 // offset just past the line (and its newline) in the chunk
	outStart uint32 // the enriched event or dead-letter record in its group's data
	outEnd   uint32
	uuid     [16]byte
}

// group holds one chunk's output for one partition (or dead-letter
// reason), so that the collector moves whole runs, not single events.
type group struct {
	dir  string // partition folder, or reason=<reason>/ for dead letters
	dead bool
	data []byte
	// rows are the typed rows of the events in data, in order, when the
	// sink wants them (RowSink).
	rows []lake.Row
	idx  int // index in work.groups, -1 when unused in the current chunk
	// collector state: data[from:pos] holds events not yet moved into the
	// batch, pending of them; with rows, rows[row:] are theirs and after.
	from, pos int
	pending   int
	row       int
}

// work is one chunk on its way through the workers to the collector.
type work struct {
	chunk  source.Chunk
	buf    []byte // the chunk's buffer, reused
	groups []*group
	byDir  map[string]*group // kept across chunks with their buffers
	recs   []rec
	done   chan struct{}
}

func (wk *work) group(dir string, dead bool) (*group, uint32) {
	g, ok := wk.byDir[dir]
	if !ok {
		g = &group{dir: dir, dead: dead, idx: -1}
		wk.byDir[dir] = g
	}
	if g.idx < 0 { // first use in this chunk
		g.idx = len(wk.groups)
		g.data = g.data[:0]
		g.rows = g.rows[:0]
		wk.groups = append(wk.groups, g)
	}
	return g, uint32(g.idx)
}

// reset readies wk for a new chunk. Groups not used in the last few chunks
// are dropped so a work does not hold buffers for partitions long gone.
func (wk *work) reset() {
	if len(wk.byDir) > 4*len(wk.groups)+64 {
		clear(wk.byDir)
	}
	for _, g := range wk.groups {
		g.idx = -1
	}
	wk.groups = wk.groups[:0]
	wk.recs = wk.recs[:0]
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
		free <- &work{done: make(chan struct{}, 1), byDir: map[string]*group{}}
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
		if readErr = r.read(ictx, in, free, order, jobs); readErr != nil {
			cancel(readErr)
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
	if sw, ok := r.w.(sweeper); ok {
		r.stats.Leftovers = sw.Swept()
	}
	if err == nil && ctx.Err() != nil {
		r.stats.Interrupted = true
	}
	if err == nil && readErr != nil {
		err = readErr
	}
	return r.stats.clone(), err
}

// read cuts in into chunks, each in a free work, handed in input order to
// the collector (order) and to the workers (jobs). It returns at the end of
// the input, when ctx is done, or with the input's error.
func (r *Runner) read(ctx context.Context, in io.Reader, free <-chan *work, order, jobs chan<- *work) error {
	lr := source.NewLineReader(in, &source.LineReaderOptions{ChunkSize: r.cfg.ChunkSize, MaxLine: r.cfg.Event.MaxSize})
	for {
		var wk *work
		select {
		case wk = <-free:
		case <-ctx.Done():
			return nil
		}
		c, err := lr.Next(wk.buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		wk.chunk, wk.buf = c, c.Data
		order <- wk
		jobs <- wk
	}
}

// proc is one worker's state.
type proc struct {
	r *Runner
	c *core
}

func (r *Runner) newProc() *proc {
	return &proc{r: r, c: newCore(r.cfg.Layout, r.cfg.Event)}
}

func (p *proc) process(wk *work) {
	wk.reset()
	data := wk.chunk.Data
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
		size := int64(len(raw))
		if wk.chunk.Cut > 0 {
			size = wk.chunk.Cut // only the line's start was kept
		}
		v := p.c.line(raw, size, p.r.cfg.Source, line)
		rc := rec{kind: v.kind, end: uint32(end)}
		if v.kind != kindBlank {
			g, gi := wk.group(v.dir, v.kind == kindDead)
			rc.group, rc.outStart = gi, uint32(len(g.data))
			g.data = p.c.appendLine(g.data, &v)
			rc.outEnd = uint32(len(g.data))
			if v.kind == kindEvent {
				rc.uuid = uuidKey(&p.r.seeds, v.info.UUID)
				if p.r.rows {
					g.rows = lake.AppendTypedRow(g.rows, v.info)
				}
			}
		}
		wk.recs = append(wk.recs, rc)
	}
}

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
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/deadletter"
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
	ObjectsFailed  int64 // objects the destination failed to create
	Partitions     int   // distinct partitions written to
	BytesIn        int64 // input bytes
	BytesOut       int64 // bytes stored (compressed)
	Elapsed        time.Duration
	Interrupted    bool       // stopped by the context (a signal) after flushing
	Leftovers      lake.Swept // temporary files of crashed runs removed from the folders written
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
	idx  int // index in work.groups, -1 when unused in the current chunk
	// collector state: data[from:pos] holds events not yet moved into the
	// batch, pending of them.
	from, pos int
	pending   int
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
		lr := source.NewLineReader(in, &source.LineReaderOptions{ChunkSize: r.cfg.ChunkSize, MaxLine: r.cfg.Event.MaxSize})
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
	r.stats.Leftovers = r.w.Swept()
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
	r  *Runner
	ck *checker
}

func (r *Runner) newProc() *proc {
	return &proc{r: r, ck: newChecker(r.cfg.Layout, r.cfg.Event)}
}

// checker applies to one event every rule it must pass to land: the event
// rules, then the layout's (its partition folder can be made). The CLI
// pipeline and Land share it, so both refuse the same events for the same
// reasons. Not safe for concurrent use.
type checker struct {
	enr  *event.Enricher
	dirs dirCache
}

func newChecker(l lake.Layout, opts event.Options) *checker {
	return &checker{enr: event.NewEnricher(&opts), dirs: newDirCache(l)}
}

// check returns the event's info and partition folder, or why it is
// refused (event.ErrBlank for a blank line, else an *event.Error). After a
// nil error, enriched appends the enriched event.
func (c *checker) check(raw []byte) (event.Info, string, error) {
	info, err := c.enr.Check(raw)
	if err != nil {
		return info, "", err
	}
	dir, err := c.dirs.dir(info)
	return info, dir, err
}

// enriched appends the event the last check accepted.
func (c *checker) enriched(dst []byte) []byte { return c.enr.AppendEnriched(dst) }

// deadLetter is the record of a refused event of size bytes. A too_large
// one keeps the event's first maxSize bytes: the rest is never held.
func deadLetter(ee *event.Error, src string, raw []byte, size int64, maxSize int) deadletter.Record {
	if ee.Reason == event.ReasonTooLarge && len(raw) > maxSize {
		raw = raw[:maxSize]
	}
	return deadletter.New(string(ee.Reason), ee.Msg, src, raw, size)
}

// refusal is the *event.Error in err (every refusal is one).
func refusal(err error) *event.Error {
	var ee *event.Error
	if !errors.As(err, &ee) {
		ee = &event.Error{Reason: event.ReasonInvalidJSON, Msg: err.Error()}
	}
	return ee
}

// dirCache finds the partition folder of an event, caching folders by
// event_type and then time bucket, so that most events find theirs without
// building and hashing the path. Not safe for concurrent use.
type dirCache struct {
	layout  lake.Layout
	scratch []byte
	dirs    map[string][]bucketDir
}

type bucketDir struct {
	bucket int64
	dir    string
}

func newDirCache(l lake.Layout) dirCache {
	return dirCache{layout: l, dirs: map[string][]bucketDir{}}
}

// dir returns the partition folder of info, or the layout's refusal.
// Refused event types are not cached: they are rare.
func (c *dirCache) dir(info event.Info) (string, error) {
	bucket := c.layout.Bucket(info)
	list := c.dirs[string(info.Type)]
	for _, bd := range list {
		if bd.bucket == bucket {
			return bd.dir, nil
		}
	}
	if err := c.layout.Check(info); err != nil {
		return "", err
	}
	c.scratch = c.layout.AppendPath(c.scratch[:0], info)
	dir := string(c.scratch)
	if len(list) >= 64 {
		list = list[:0]
	}
	if len(c.dirs) >= 1<<16 {
		clear(c.dirs)
	}
	c.dirs[string(info.Type)] = append(list, bucketDir{bucket, dir})
	return dir, nil
}

// uuidKey is the 128-bit de-duplication key of an event_uuid.
func uuidKey(seeds *[2]maphash.Seed, uuid []byte) (id [16]byte) {
	binary.LittleEndian.PutUint64(id[:8], maphash.Bytes(seeds[0], uuid))
	binary.LittleEndian.PutUint64(id[8:], maphash.Bytes(seeds[1], uuid))
	return id
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
		var info event.Info
		var dir string
		var err error
		size := int64(len(raw))
		if wk.chunk.Cut > 0 {
			// Only the line's start was kept: too large, whatever it holds.
			size = wk.chunk.Cut
			err = event.TooLarge(size, p.r.cfg.Event.MaxSize)
		} else {
			info, dir, err = p.ck.check(raw)
		}
		switch {
		case err == nil:
			g, gi := wk.group(dir, false)
			start := len(g.data)
			g.data = append(p.ck.enriched(g.data), '\n')
			id := uuidKey(&p.r.seeds, info.UUID)
			wk.recs = append(wk.recs, rec{kind: kindEvent, group: gi, end: uint32(end), outStart: uint32(start), outEnd: uint32(len(g.data)), uuid: id})
		case errors.Is(err, event.ErrBlank):
			wk.recs = append(wk.recs, rec{kind: kindBlank, end: uint32(end)})
		default:
			ee := refusal(err)
			src := p.r.cfg.Source + ":" + strconv.FormatInt(line, 10)
			g, gi := wk.group("reason="+string(ee.Reason)+"/", true)
			start := len(g.data)
			g.data = deadletter.Append(g.data, deadLetter(ee, src, raw, size, p.r.cfg.Event.MaxSize))
			g.data = append(g.data, '\n')
			wk.recs = append(wk.recs, rec{kind: kindDead, group: gi, end: uint32(end), outStart: uint32(start), outEnd: uint32(len(g.data))})
		}
	}
}

// part is one object of a batch being filled, in fixed-size blocks: no
// buffer ever grows by copying, and blocks are reused batch after batch.
type part struct {
	dir    string
	dead   bool
	blocks [][]byte
	events int
}

// blockSize is the size of the blocks parts are made of.
const blockSize = 128 << 10

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
	var blank, events int64
	for _, g := range wk.groups {
		g.from, g.pos, g.pending = 0, 0, 0
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
		switch rc.kind {
		case kindEvent:
			events++
			g := wk.groups[rc.group]
			if !c.seen.add(rc.uuid) {
				// Move what came before the duplicate, then skip it.
				g.pos = int(rc.outStart)
				c.move(g)
				g.from, g.pos = int(rc.outEnd), int(rc.outEnd)
				b.dups++
				break
			}
			g.pos = int(rc.outEnd)
			g.pending++
		case kindDead:
			events++
			g := wk.groups[rc.group]
			g.pos = int(rc.outEnd)
			g.pending++
		case kindBlank:
			blank++
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
	for data := g.data[g.from:g.pos]; len(data) > 0; {
		n := len(p.blocks) - 1
		if n < 0 || len(p.blocks[n]) == cap(p.blocks[n]) {
			p.blocks = append(p.blocks, c.blocks.get())
			n++
		}
		blk := p.blocks[n]
		k := copy(blk[len(blk):cap(blk)], data)
		p.blocks[n] = blk[:len(blk)+k]
		data = data[k:]
	}
	p.events += g.pending
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
			objs = append(objs, lake.Object{Dir: p.dir, Dead: p.dead, Body: p.blocks, Events: p.events, Done: release})
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

// tally counts the outcome of a batch's written objects, one object at a
// time, so that after a partial failure the counts are what the lake holds:
// events of created objects are written, of objects already there present,
// of failed ones unwritten; dead letters count as such once stored.
// Partition folders holding events are added to partitions.
func (s *Stats) tally(objs []lake.Object, partitions map[string]struct{}) {
	for _, o := range objs {
		n := int64(o.Events)
		switch {
		case o.Err != nil:
			s.ObjectsFailed++
			s.Unwritten += n
			continue
		case o.Existed:
			s.ObjectsPresent++
		default:
			s.Objects++
			s.BytesOut += int64(o.Size)
		}
		switch {
		case o.Dead:
			s.DeadLetters += n
			s.DeadByReason[deadReason(o.Dir)] += n
		case o.Existed:
			s.AlreadyPresent += n
			partitions[o.Dir] = struct{}{}
		default:
			s.Written += n
			partitions[o.Dir] = struct{}{}
		}
	}
}

// deadReason is the reason of a dead-letter folder "reason=<reason>/".
func deadReason(dir string) event.Reason {
	return event.Reason(strings.TrimSuffix(strings.TrimPrefix(dir, "reason="), "/"))
}

// dedupe remembers event_uuid hashes of the current and the previous batch.
// A 96-bit hash per event: a false match among a million events has
// probability ~1e-17. It is an open-addressing table of 16-byte slots; slots
// of older batches are reused in place, so the table is rebuilt only when it
// must grow.
type dedupe struct {
	slots []dslot
	used  int    // slots ever filled (live or expired)
	gen   uint32 // the current batch's generation, from 2 up
}

type dslot struct {
	h1  uint64
	h2  uint32
	gen uint32 // 0: never used
}

func newDedupe() dedupe {
	return dedupe{slots: make([]dslot, 1<<18), gen: 2}
}

// add reports whether k is new, remembering it.
func (d *dedupe) add(k [16]byte) bool {
	h1 := binary.LittleEndian.Uint64(k[:8])
	h2 := binary.LittleEndian.Uint32(k[8:12])
	mask := uint64(len(d.slots) - 1)
	reuse := -1
	for i := h1 & mask; ; i = (i + 1) & mask {
		s := &d.slots[i]
		if s.gen == 0 {
			if reuse >= 0 {
				d.slots[reuse] = dslot{h1: h1, h2: h2, gen: d.gen}
				return true
			}
			*s = dslot{h1: h1, h2: h2, gen: d.gen}
			d.used++
			if d.used*2 > len(d.slots) {
				d.rebuild()
			}
			return true
		}
		live := s.gen+1 >= d.gen
		if live && s.h1 == h1 && s.h2 == h2 {
			return false
		}
		if !live && reuse < 0 {
			reuse = int(i)
		}
	}
}

// rotate starts a new batch: entries older than the previous batch expire.
func (d *dedupe) rotate() { d.gen++ }

// rebuild re-inserts the live entries into a table with at least four
// slots per live entry.
func (d *dedupe) rebuild() {
	live := 0
	for _, s := range d.slots {
		if s.gen != 0 && s.gen+1 >= d.gen {
			live++
		}
	}
	n := len(d.slots)
	for live*4 > n {
		n *= 2
	}
	old := d.slots
	d.slots = make([]dslot, n)
	d.used = 0
	mask := uint64(n - 1)
	for _, s := range old {
		if s.gen == 0 || s.gen+1 < d.gen {
			continue
		}
		i := s.h1 & mask
		for d.slots[i].gen != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = s
		d.used++
	}
}

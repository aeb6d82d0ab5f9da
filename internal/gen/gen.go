// Package gen produces realistic, deterministic streams of events for tests,
// benchmarks and demos: about 100 event names over 20 domains with payloads
// that differ by domain, optional bad events (each with the reason the rules
// must give) and optional duplicate deliveries.
package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/eventlake/eventlake/internal/event"
)

// DefaultStart is the default start of the created_at range. It is fixed,
// not "now", so that a seed always gives the same bytes.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Options say what to generate. Zero values give defaults.
type Options struct {
	Events int           // number of lines, duplicates and bad events included
	Seed   uint64        // same seed, same bytes
	Start  time.Time     // first created_at; zero means DefaultStart
	Span   time.Duration // created_at spread over [Start, Start+Span); 0 means 48h
	Bad    float64       // fraction of bad events, 0..1
	Dup    float64       // fraction of duplicate deliveries (an earlier line again), 0..1
	// Oversize, when > 0, adds too_large events padded to this many bytes
	// to the mix of bad events. Leave 0 unless the limit is small.
	Oversize int
}

// Check reports what, if anything, makes o unusable.
func (o Options) Check() error {
	_, err := o.withDefaults()
	return err
}

func (o Options) withDefaults() (Options, error) {
	if o.Events < 0 {
		return o, fmt.Errorf("gen: negative event count %d", o.Events)
	}
	if o.Bad < 0 || o.Bad > 1 || o.Dup < 0 || o.Dup > 1 || o.Bad+o.Dup > 1 {
		return o, fmt.Errorf("gen: fractions must be within 0..1 and add up to at most 1 (bad %g, dup %g)", o.Bad, o.Dup)
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Span <= 0 {
		o.Span = 48 * time.Hour
	}
	return o, nil
}

// Kind says what a generated line is, so tests know what to expect of it.
type Kind struct {
	Reason event.Reason // "" for a good event
	Dup    bool         // a repeat of an earlier line of the stream
}

// Stats counts what was generated.
type Stats struct {
	Lines int64
	Bytes int64
	Good  int64 // distinct good events
	Dups  int64 // repeated deliveries of good events
	Bad   map[event.Reason]int64
}

func (s *Stats) add(k Kind, n int) {
	s.Lines++
	s.Bytes += int64(n) + 1
	switch {
	case k.Dup:
		s.Dups++
	case k.Reason != "":
		if s.Bad == nil {
			s.Bad = map[event.Reason]int64{}
		}
		s.Bad[k.Reason]++
	default:
		s.Good++
	}
}

func (s *Stats) merge(o Stats) {
	s.Lines += o.Lines
	s.Bytes += o.Bytes
	s.Good += o.Good
	s.Dups += o.Dups
	for r, n := range o.Bad {
		if s.Bad == nil {
			s.Bad = map[event.Reason]int64{}
		}
		s.Bad[r] += n
	}
}

// blockSize is the number of lines generated from one random source. Blocks
// are independent, so they are made in parallel and still deterministic.
const blockSize = 4096

// Each calls fn for every line in order. line is only valid during the call.
func Each(opts Options, fn func(line []byte, k Kind) error) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	var buf []byte
	for b := 0; b*blockSize < opts.Events; b++ {
		var err error
		buf = block(opts, b, buf[:0], func(line []byte, k Kind) {
			if err == nil {
				err = fn(line, k)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Write writes the stream as NDJSON to w, making blocks on every core.
// progress, if not nil, is called with the lines written so far.
func Write(ctx context.Context, w io.Writer, opts Options, progress func(lines int64)) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	type result struct {
		buf   []byte
		stats Stats
	}
	nblocks := (opts.Events + blockSize - 1) / blockSize
	workers := runtime.GOMAXPROCS(0)
	// Each block has its own result channel; order is kept by reading them
	// in block order.
	pending := make(chan chan result, workers*2)
	free := make(chan []byte, workers*3)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(pending)
		sem := make(chan struct{}, workers)
		for b := 0; b < nblocks; b++ {
			ch := make(chan result, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			sem <- struct{}{}
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			go func(b int, buf []byte) {
				defer func() { <-sem }()
				var st Stats
				buf = block(opts, b, buf[:0], func(line []byte, k Kind) { st.add(k, len(line)) })
				ch <- result{buf, st}
			}(b, buf)
		}
	}()
	var total Stats
	for ch := range pending {
		r := <-ch
		if _, err := w.Write(r.buf); err != nil {
			return total, fmt.Errorf("gen: write: %w", err)
		}
		total.merge(r.stats)
		if progress != nil {
			progress(total.Lines)
		}
		select {
		case free <- r.buf:
		default:
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, ctx.Err()
}

// WritePaced writes the stream at about rate lines per second, flushing as
// it goes, for feeding a consumer in real time.
func WritePaced(ctx context.Context, w io.Writer, opts Options, rate float64, progress func(lines int64)) (Stats, error) {
	if rate <= 0 {
		return Stats{}, errors.New("gen: rate must be positive")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var st Stats
	start := time.Now()
	lastFlush := start
	err := Each(opts, func(line []byte, k Kind) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		due := start.Add(time.Duration(float64(st.Lines) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
			lastFlush = time.Now()
			time.Sleep(d)
		}
		bw.Write(line)
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		st.add(k, len(line))
		if time.Since(lastFlush) > 100*time.Millisecond {
			lastFlush = time.Now()
			if progress != nil {
				progress(st.Lines)
			}
			return bw.Flush()
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return st, err
}

// block appends the lines of block b, each ending in '\n', to buf and calls
// emit with each (without the newline).
func block(o Options, b int, buf []byte, emit func([]byte, Kind)) []byte {
	rng := rand.New(rand.NewPCG(o.Seed, uint64(b)))
	g := generator{rng: rng, opts: o}
	first := b * blockSize
	n := min(blockSize, o.Events-first)
	// Offsets of recent good lines in buf, for duplicate deliveries.
	var recent [64]int
	var recentLen [64]int
	nrecent := 0
	for i := 0; i < n; i++ {
		start := len(buf)
		var k Kind
		r := rng.Float64()
		switch {
		case r < o.Dup && nrecent > 0:
			j := rng.IntN(min(nrecent, len(recent)))
			off, l := recent[j], recentLen[j]
			buf = append(buf, buf[off:off+l]...)
			k.Dup = true
		case r < o.Dup+o.Bad:
			buf, k.Reason = g.badEvent(buf)
		default:
			buf = g.goodEvent(buf)
			slot := nrecent % len(recent)
			recent[slot], recentLen[slot] = start, len(buf)-start
			nrecent++
		}
		line := buf[start:]
		emit(line, k)
		buf = append(buf, '\n')
	}
	return buf
}

type generator struct {
	rng  *rand.Rand
	opts Options
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// name picks an event name, domains weighted.
func (g *generator) name() (domain int, name string) {
	r := g.rng.IntN(totalWeight)
	for i, d := range catalog {
		if r < d.weight {
			return i, d.names[g.rng.IntN(len(d.names))]
		}
		r -= d.weight
	}
	panic("unreachable")
}

func (g *generator) appendUUID(dst []byte) []byte {
	const hex = "0123456789abcdef"
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}

// appendCreatedAt writes a created_at: mostly integer seconds, some with
// milliseconds as a fraction, some as integer milliseconds.
func (g *generator) appendCreatedAt(dst []byte) []byte {
	off := time.Duration(g.rng.Int64N(int64(g.opts.Span)))
	t := g.opts.Start.Add(off)
	switch r := g.rng.IntN(20); {
	case r < 17:
		return strconv.AppendInt(dst, t.Unix(), 10)
	case r < 19:
		dst = strconv.AppendInt(dst, t.Unix(), 10)
		ms := t.Nanosecond() / 1e6
		return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	default:
		return strconv.AppendInt(dst, t.UnixMilli(), 10)
	}
}

func (g *generator) goodEvent(dst []byte) []byte {
	d, name := g.name()
	dst = append(dst, `{"event_uuid":"`...)
	dst = g.appendUUID(dst)
	dst = append(dst, `","event_name":"`...)
	dst = append(dst, name...)
	dst = append(dst, `","created_at":`...)
	dst = g.appendCreatedAt(dst)
	dst = g.payload(dst, d, name)
	return append(dst, '}')
}

// badEvent appends one bad event and returns the reason the rules must give.
func (g *generator) badEvent(dst []byte) ([]byte, event.Reason) {
	kinds := 10
	if g.opts.Oversize > 0 {
		kinds++
	}
	start := len(dst)
	switch g.rng.IntN(kinds) {
	case 0: // cut short
		dst = g.goodEvent(dst)
		cut := start + (len(dst)-start)/2
		for cut > start && dst[cut]&0xC0 == 0x80 { // keep UTF-8 whole
			cut--
		}
		return dst[:cut], event.ReasonInvalidJSON
	case 1:
		dst = append(dst, `["event_uuid","`...)
		dst = g.appendUUID(dst)
		return append(dst, `"]`...), event.ReasonNotObject
	case 2: // a Latin-1 byte where UTF-8 was expected
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		dst = append(dst, `","event_name":"account:updated:email","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, ",\"name\":\"Ren\xe9\"}"...), event.ReasonInvalidUTF8
	case 3:
		dst = append(dst, `{"event_name":"page:viewed","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, `,"path":"/"}`...), event.ReasonMissingEventUUID
	case 4:
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		dst = append(dst, `","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, `,"path":"/"}`...), event.ReasonMissingEventName
	case 5:
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		dst = append(dst, `","event_name":"`...)
		dst = append(dst, g.pick([]string{"pageviewed", ":viewed", "page:", "", "::"})...)
		dst = append(dst, `","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, '}'), event.ReasonBadEventName
	case 6:
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		return append(dst, `","event_name":"lesson:started","lesson_id":7}`...), event.ReasonMissingCreatedAt
	case 7:
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		dst = append(dst, `","event_name":"lesson:started","created_at":`...)
		dst = append(dst, g.pick([]string{`"yesterday"`, `-1`, `true`, `null`, `"2026-11-01T10:00:00Z"`, `1e40`})...)
		return append(dst, '}'), event.ReasonBadCreatedAt
	case 8:
		dst = append(dst, `{"event_uuid":`...)
		dst = append(dst, g.pick([]string{`12345`, `""`, `null`, `{"id":"x"}`})...)
		dst = append(dst, `,"event_name":"page:viewed","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, '}'), event.ReasonBadEventUUID
	case 9:
		dst = append(dst, `{"event_uuid":"`...)
		dst = g.appendUUID(dst)
		dst = append(dst, `","event_name":"page:viewed","event_name":"page:left","created_at":`...)
		dst = g.appendCreatedAt(dst)
		return append(dst, '}'), event.ReasonDuplicateKey
	default:
		dst = g.goodEvent(dst)
		dst = dst[:len(dst)-1]
		dst = append(dst, `,"padding":"`...)
		for len(dst)-start < g.opts.Oversize+1 {
			dst = append(dst, "0123456789abcdef"...)
		}
		return append(dst, `"}`...), event.ReasonTooLarge
	}
}

package compact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// input is an object merged in a round; rank orders inputs by source
// position: live compacted objects first (their events landed earlier),
// then the others by name.
type input struct {
	lake.Entry
	rank  int
	lines [][]byte
}

// ev is one event of a round.
type ev struct {
	uuid      string
	sec       int64
	nsec      int32
	rank, pos int
	line      []byte
}

// ns is created_at in nanoseconds since the epoch.
func (a *ev) ns() int64 { return a.sec*1e9 + int64(a.nsec) }

// before orders events: by created_at, then source position.
func (a *ev) before(b *ev) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// output is an object to write.
type output struct {
	lake.Output
	body []byte
}

// merged is what a round makes of its inputs.
type merged struct {
	outputs    []output
	duplicates int64 // events dropped
}

// merge makes the round's outputs from its inputs: it parses their events,
// keeps the first copy of each event_uuid (see dedup), sorts the kept
// events by created_at and source position, and encodes them.
func (c *compactor) merge(ctx context.Context, p *plan, inputs []*input, rawBytes int64) (*merged, error) {
	parsed, lo, hi, err := parse(inputs)
	if err != nil {
		return nil, err
	}
	known, err := c.knownUUIDs(ctx, p.readBack(lo, hi))
	if err != nil {
		return nil, err
	}
	events, dups := dedup(parsed, known)
	slices.SortFunc(events, func(a, b *ev) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	format, compression := c.outputFormat(inputs)
	outputs, err := c.encode(p.seq()+1, inputs, events, format, compression, rawBytes, storedBytes(inputs))
	if err != nil {
		return nil, err
	}
	return &merged{outputs: outputs, duplicates: dups}, nil
}

// read reads candidates in order until roundBytes of events are in, and
// says how many bytes of events (uncompressed, newline included) those are.
func (c *compactor) read(ctx context.Context, candidates []lake.Entry) ([]*input, int64, error) {
	var inputs []*input
	var rawBytes int64
	for i, e := range candidates {
		if rawBytes >= c.roundBytes() && len(inputs) > 0 {
			break
		}
		body, err := c.r.Read(ctx, e.Key)
		if errors.Is(err, lake.ErrNotExist) {
			return nil, 0, errConflict // deleted by a compaction that committed meanwhile
		}
		if err != nil {
			return nil, 0, err
		}
		lines, err := lake.Lines(e.Key, body)
		if err != nil {
			return nil, 0, err
		}
		for _, l := range lines {
			rawBytes += int64(len(l)) + 1
		}
		inputs = append(inputs, &input{Entry: e, rank: i, lines: lines})
	}
	return inputs, rawBytes, nil
}

// storedBytes sums the inputs' stored sizes.
func storedBytes(inputs []*input) int64 {
	var n int64
	for _, in := range inputs {
		n += in.Size
	}
	return n
}

// parse checks every event of the inputs against the rules and returns
// them in source order, with the lowest and highest created_at (ns).
func parse(inputs []*input) (parsed []*ev, lo, hi int64, err error) {
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	lo, hi = int64(math.MaxInt64), int64(math.MinInt64)
	for _, in := range inputs {
		for pos, line := range in.lines {
			info, err := enr.Check(line)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("%s line %d: a stored event does not pass the rules (was the object written by eventlake?): %w", in.Key, pos+1, err)
			}
			e := &ev{uuid: string(info.UUID), sec: info.Sec, nsec: int32(info.Nsec), rank: in.rank, pos: pos, line: line}
			lo, hi = min(lo, e.ns()), max(hi, e.ns())
			parsed = append(parsed, e)
		}
	}
	return parsed, lo, hi, nil
}

// dedup keeps the first event of each event_uuid: the one with the earliest
// created_at, then source position; none whose event_uuid is in a known set
// (a live compacted object not merged: it landed earlier). The kept events
// come back unordered, with the number dropped.
func dedup(parsed []*ev, known []map[string]struct{}) ([]*ev, int64) {
	best := make(map[string]*ev, len(parsed))
	var dups int64
next:
	for _, e := range parsed {
		for _, set := range known {
			if _, dup := set[e.uuid]; dup {
				dups++
				continue next
			}
		}
		if old, dup := best[e.uuid]; dup {
			dups++
			if !e.before(old) {
				continue
			}
		}
		best[e.uuid] = e
	}
	events := make([]*ev, 0, len(best))
	for _, e := range best {
		events = append(events, e)
	}
	return events, dups
}

// knownUUIDs reads the event_uuids of live compacted objects that this
// round does not merge: an event already compacted is kept over a later
// copy of it. Sets are read once per partition.
func (c *compactor) knownUUIDs(ctx context.Context, keys []string) ([]map[string]struct{}, error) {
	if c.known == nil {
		c.known = map[string]map[string]struct{}{}
	}
	var sets []map[string]struct{}
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	for _, key := range keys {
		set, ok := c.known[key]
		if !ok {
			body, err := c.r.Read(ctx, key)
			if errors.Is(err, lake.ErrNotExist) {
				return nil, errConflict
			}
			if err != nil {
				return nil, err
			}
			lines, err := lake.Lines(key, body)
			if err != nil {
				return nil, err
			}
			set = make(map[string]struct{}, len(lines))
			for i, l := range lines {
				info, err := enr.Check(l)
				if err != nil {
					return nil, fmt.Errorf("%s line %d: %w", key, i+1, err)
				}
				set[string(info.UUID)] = struct{}{}
			}
			c.known[key] = set
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// outputFormat is the options' format and compression, else the most
// common among the inputs.
func (c *compactor) outputFormat(inputs []*input) (lake.Format, lake.Compression) {
	type fc struct {
		f lake.Format
		c lake.Compression
	}
	count := map[fc]int{}
	best, n := fc{lake.JSONL, lake.Gzip}, 0
	for _, in := range inputs {
		f, c, _ := lake.FormatOf(in.Key)
		k := fc{f, c}
		count[k]++
		if count[k] > n {
			best, n = k, count[k]
		}
	}
	if c.o.Format != nil {
		best.f = *c.o.Format
	}
	if c.o.Compression != nil {
		best.c = *c.o.Compression
	}
	if best.f == lake.Parquet {
		best.c = lake.None
	} else if c.o.Format != nil && c.o.Compression == nil && best.c == lake.None {
		best.c = lake.Gzip // Parquet inputs made into NDJSON: the default compression
	}
	return best.f, best.c
}

// encode splits the kept events into objects of about the target size,
// estimating the stored size from the inputs' compression ratio, and names
// them after the round's plan: the same inputs and options always give the
// same names and bytes, so a compaction that runs again after a crash, or
// beside another, finds its objects already there. seq is the manifest
// that is to make them live; it starts their names.
func (c *compactor) encode(seq int64, inputs []*input, events []*ev, f lake.Format, comp lake.Compression, rawBytes, storedBytes int64) ([]output, error) {
	h := sha256.New()
	fmt.Fprintf(h, "eventlake compaction v1\n%s\n%s\n%d\n", f, comp, c.o.TargetSize)
	for _, in := range inputs {
		fmt.Fprintf(h, "%s\n%d\n", in.Key, in.Size)
	}
	plan := hex.EncodeToString(h.Sum(nil))[:16]
	limit := c.o.TargetSize
	if storedBytes > 0 && rawBytes > storedBytes {
		limit = int64(float64(c.o.TargetSize) * float64(rawBytes) / float64(storedBytes))
	}
	var outs []output
	part := c.res.Partition
	for start := 0; start < len(events); {
		end, size := start, int64(0)
		for end < len(events) && (end == start || size+int64(len(events[end].line))+1 <= limit) {
			size += int64(len(events[end].line)) + 1
			end++
		}
		lines := make([][]byte, end-start)
		for i, e := range events[start:end] {
			lines[i] = e.line
		}
		body, err := lake.Encode(f, comp, lines)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		key := fmt.Sprintf("%s%s%d.%s.%04d%s", part, lake.CompactedPrefix, seq, plan, len(outs), lake.Ext(f, comp))
		outs = append(outs, output{
			Output: lake.Output{Key: key, Bytes: int64(len(body)), Events: int64(end - start), SHA256: hex.EncodeToString(sum[:]),
				FirstCreated: events[start].ns(), LastCreated: events[end-1].ns()},
			body: body,
		})
		start = end
	}
	return outs, nil
}

package pipeline

import (
	"bytes"
	"context"
	"hash/maphash"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// Record is one record of a delivered batch: a Kinesis record (after KPL
// de-aggregation) or an SQS message.
type Record struct {
	Data []byte
	// Source says where it came from, for dead letters: "shardId-…:seq" or
	// an SQS message id.
	Source string
	// Lines: the data may hold several events as NDJSON (SQS message
	// bodies). When false the whole record is one event.
	Lines bool
}

// LandOptions configure Land. Zero values mean defaults.
type LandOptions struct {
	Layout lake.Layout
	Event  event.Options
	// KeepDeadLetters: return dead letters to the caller (to send to a
	// queue) instead of writing them to the writer's dead-letter store.
	KeepDeadLetters bool
	// Seen, if set, reports whether an event_uuid was already written by an
	// earlier batch; such events count as duplicates.
	Seen func(uuid []byte) bool
	// CollectUUIDs: return the event_uuids the batch holds in UUIDs.
	CollectUUIDs bool
}

// LandResult says what Land did with a batch.
type LandResult struct {
	Stats Stats
	// DeadLetters are the bad events, when LandOptions.KeepDeadLetters, and
	// DeadLetterRecords the index of the record each came from.
	DeadLetters       []deadletter.Record
	DeadLetterRecords []int
	// Failed lists, in order, the indexes of records not durably written:
	// one of their events is in an object that could not be created.
	Failed []int
	// Objects are the objects of the batch, with their outcome.
	Objects []lake.Object
	// Name is the batch's name, its hash filled in.
	Name lake.Name
	// UUIDs are the event_uuids of the batch's events, with CollectUUIDs.
	UUIDs []string
}

// Land processes one delivered batch: every record enriched (or made a dead
// letter), repeated event_uuids written once, one object per partition
// written to w under name. It returns an error only with Failed set; bad data is
// never an error.
func Land(ctx context.Context, w Sink, name lake.Name, recs []Record, opts *LandOptions) (LandResult, error) {
	if opts == nil {
		opts = &LandOptions{}
	}
	l := newLander(opts)
	if rs, ok := w.(RowSink); ok {
		l.rows = rs.WantsRows()
	}
	hash := xxhash.New()
	for ri, r := range recs {
		hash.Write(r.Data)
		hash.Write([]byte{0})
		l.record(ri, r)
	}
	name.Hash = hash.Sum64()
	l.res.Name = name
	err := l.write(ctx, w, name)
	return l.res, err
}

// lander is one batch on its way through Land.
type lander struct {
	opts  *LandOptions
	c     *core
	seeds [2]maphash.Seed
	seen  map[[16]byte]struct{}
	parts map[string]*landPart
	res   LandResult
	out   []byte
	rows  bool // hand the events' typed rows to the sink (RowSink)
}

// landPart is one object of the batch and the records with events in it.
type landPart struct {
	obj  lake.Object
	recs []int
}

func newLander(opts *LandOptions) *lander {
	l := &lander{
		opts: opts, c: newCore(opts.Layout, opts.Event),
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		seen:  map[[16]byte]struct{}{}, parts: map[string]*landPart{},
	}
	l.res.Stats.DeadByReason = map[event.Reason]int64{}
	return l
}

// record lands the events of record ri, or makes them dead letters.
func (l *lander) record(ri int, r Record) {
	data := bytes.TrimPrefix(r.Data, []byte(event.BOM))
	events := [][]byte{data}
	if r.Lines {
		events = SplitEvents(data)
	}
	st := &l.res.Stats
	var counts lineCounts
	for li, raw := range events {
		st.BytesIn += int64(len(raw))
		n := int64(0)
		if len(events) > 1 {
			n = int64(li + 1)
		}
		v := l.c.line(raw, int64(len(raw)), r.Source, n)
		counts.add(v.kind)
		switch {
		case v.kind == kindBlank:
			continue
		case v.kind == kindEvent:
			key := uuidKey(&l.seeds, v.info.UUID)
			if _, dup := l.seen[key]; dup || (l.opts.Seen != nil && l.opts.Seen(v.info.UUID)) {
				st.Duplicates++
				continue
			}
			l.seen[key] = struct{}{}
			if l.opts.CollectUUIDs {
				l.res.UUIDs = append(l.res.UUIDs, string(v.info.UUID))
			}
		case l.opts.KeepDeadLetters: // counted here, not once stored
			st.DeadByReason[v.reason]++
			st.DeadLetters++
			l.res.DeadLetters = append(l.res.DeadLetters, v.dead)
			l.res.DeadLetterRecords = append(l.res.DeadLetterRecords, ri)
			continue
		}
		l.out = l.c.appendLine(l.out[:0], &v)
		l.add(&v, l.out, ri)
	}
	counts.addTo(st)
}

// add appends line, what is stored for v (an event or a dead letter of
// record ri), to the object of its folder, with the event's typed row when
// the sink wants rows.
func (l *lander) add(v *verdict, line []byte, ri int) {
	dead := v.kind == kindDead
	p, ok := l.parts[v.dir]
	if !ok {
		p = &landPart{obj: lake.Object{Dir: v.dir, Dead: dead}}
		l.parts[v.dir] = p
	}
	p.obj.Body = fill(p.obj.Body, line, newLandBlock)
	p.obj.Events++
	if l.rows && !dead {
		p.obj.Rows = lake.AppendTypedRow(p.obj.Rows, v.info)
	}
	if n := len(p.recs); n == 0 || p.recs[n-1] != ri {
		p.recs = append(p.recs, ri)
	}
}

// newLandBlock is a block of a delivered batch's object. Smaller than the
// pipeline's: a function's batch spreads a few thousand events over up to
// hundreds of partitions.
func newLandBlock() []byte { return make([]byte, 0, 32<<10) }

// write creates the batch's objects and counts each one's outcome; the
// records with an event in an object not created are Failed.
func (l *lander) write(ctx context.Context, w Sink, name lake.Name) error {
	dirs := make([]string, 0, len(l.parts))
	for d := range l.parts {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	objs := make([]lake.Object, len(dirs))
	for i, d := range dirs {
		objs[i] = l.parts[d].obj
	}
	err := w.Write(ctx, name, objs)
	partitions := map[string]struct{}{}
	l.res.Stats.tally(objs, partitions)
	l.res.Stats.Partitions = len(partitions)
	failed := map[int]bool{}
	for i, o := range objs {
		if o.Err != nil {
			for _, ri := range l.parts[dirs[i]].recs {
				failed[ri] = true
			}
		}
	}
	for ri := range failed {
		l.res.Failed = append(l.res.Failed, ri)
	}
	sort.Ints(l.res.Failed)
	l.res.Objects = objs
	l.res.Stats.Batches = 1
	return err
}

// SplitEvents splits an SQS message body into events: NDJSON when its first
// line is a whole JSON value, else the body is one event (pretty-printed
// JSON spans lines).
func SplitEvents(body []byte) [][]byte {
	first, rest, found := bytes.Cut(body, []byte{'\n'})
	if !found || len(bytes.TrimSpace(rest)) == 0 || !event.IsJSONValue(first) {
		return [][]byte{body}
	}
	lines := bytes.Split(bytes.TrimRight(body, "\r\n"), []byte{'\n'})
	return lines
}

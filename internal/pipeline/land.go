package pipeline

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"sort"
	"strconv"

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
// created under name. It returns an error only with Failed set; bad data is
// never an error.
func Land(ctx context.Context, w *lake.Writer, name lake.Name, recs []Record, opts *LandOptions) (LandResult, error) {
	if opts == nil {
		opts = &LandOptions{}
	}
	ck := newChecker(opts.Layout, opts.Event)
	maxSize := opts.Event.MaxSize
	if maxSize <= 0 {
		maxSize = event.DefaultMaxSize
	}
	seeds := [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	seen := map[[16]byte]struct{}{}
	type part struct {
		obj  lake.Object
		recs []int // records with events in it
	}
	parts := map[string]*part{}
	var res LandResult
	res.Stats.DeadByReason = map[event.Reason]int64{}
	hash := xxhash.New()
	addTo := func(dir string, dead bool, line []byte, rec int) {
		p, ok := parts[dir]
		if !ok {
			p = &part{obj: lake.Object{Dir: dir, Dead: dead, Body: [][]byte{nil}}}
			parts[dir] = p
		}
		p.obj.Body[0] = append(append(p.obj.Body[0], line...), '\n')
		p.obj.Events++
		if n := len(p.recs); n == 0 || p.recs[n-1] != rec {
			p.recs = append(p.recs, rec)
		}
	}
	var out []byte
	for ri, r := range recs {
		hash.Write(r.Data)
		hash.Write([]byte{0})
		events := [][]byte{r.Data}
		if r.Lines {
			events = SplitEvents(r.Data)
		}
		for li, raw := range events {
			res.Stats.Lines++
			res.Stats.BytesIn += int64(len(raw))
			info, dir, err := ck.check(raw)
			switch {
			case err == nil:
				res.Stats.In++
				key := uuidKey(&seeds, info.UUID)
				if _, dup := seen[key]; dup || (opts.Seen != nil && opts.Seen(info.UUID)) {
					res.Stats.Duplicates++
					continue
				}
				seen[key] = struct{}{}
				if opts.CollectUUIDs {
					res.UUIDs = append(res.UUIDs, string(info.UUID))
				}
				out = ck.enriched(out[:0])
				addTo(dir, false, out, ri)
			case errors.Is(err, event.ErrBlank):
				res.Stats.Blank++
			default:
				res.Stats.In++
				ee := refusal(err)
				src := r.Source
				if len(events) > 1 {
					src += ":" + strconv.Itoa(li+1)
				}
				dl := deadLetter(ee, src, raw, int64(len(raw)), maxSize)
				res.Stats.DeadByReason[ee.Reason]++
				res.Stats.DeadLetters++
				if opts.KeepDeadLetters {
					res.DeadLetters = append(res.DeadLetters, dl)
					res.DeadLetterRecords = append(res.DeadLetterRecords, ri)
					continue
				}
				addTo("reason="+string(ee.Reason)+"/", true, deadletter.Append(out[:0], dl), ri)
			}
		}
	}
	name.Hash = hash.Sum64()
	res.Name = name

	dirsSorted := make([]string, 0, len(parts))
	for d := range parts {
		dirsSorted = append(dirsSorted, d)
	}
	sort.Strings(dirsSorted)
	objs := make([]lake.Object, len(dirsSorted))
	for i, d := range dirsSorted {
		objs[i] = parts[d].obj
	}
	err := w.Write(ctx, name, objs)
	failed := map[int]bool{}
	seenDir := map[string]bool{}
	for i, o := range objs {
		p := parts[dirsSorted[i]]
		switch {
		case o.Err != nil:
			for _, ri := range p.recs {
				failed[ri] = true
			}
			if !o.Dead {
				res.Stats.Unwritten += int64(o.Events)
			}
		case o.Existed:
			res.Stats.ObjectsPresent++
			if !o.Dead {
				res.Stats.AlreadyPresent += int64(o.Events)
			}
		default:
			res.Stats.Objects++
			res.Stats.BytesOut += int64(o.Size)
			if !o.Dead {
				res.Stats.Written += int64(o.Events)
			}
		}
		if !o.Dead && o.Err == nil && !seenDir[o.Dir] {
			seenDir[o.Dir] = true
			res.Stats.Partitions++
		}
	}
	for ri := range failed {
		res.Failed = append(res.Failed, ri)
	}
	sort.Ints(res.Failed)
	res.Objects = objs
	res.Stats.Batches = 1
	return res, err
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

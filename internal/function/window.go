package function

import "sync"

// windowEvents is how many event_uuids of earlier batches of a shard or
// queue the duplicate check remembers (whole batches; at least one). At 1M
// events an hour that is minutes of one shard's traffic: producers retry
// within seconds, and concurrent PutRecords calls reorder records across a
// few thousand positions.
const windowEvents = 200_000

// windows remember, per shard or queue, the event_uuids of the last few
// batches written, so that a duplicate delivery in the next batch is not
// written again. It lives as long as the execution environment: after a
// cold start it is empty and duplicates across the boundary pass (compaction
// removes them); within one batch they are always removed.
type windows struct {
	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	gens []gen // oldest first
}

// gen is one batch written: its event_uuids and its sequence range.
type gen struct {
	first, last string
	uuids       map[string]struct{}
}

// seen returns the check for a batch of source starting at firstSeq: the
// last few batches written that end before it. A retry or a replay thus
// sees exactly what the first attempt saw, and makes the same objects.
func (ws *windows) seen(source, firstSeq string) func([]byte) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.m[source]
	if w == nil {
		return nil
	}
	var use []map[string]struct{}
	n := 0
	for i := len(w.gens) - 1; i >= 0 && n < windowEvents; i-- {
		if g := w.gens[i]; firstSeq == "" || seqAfter(firstSeq, g.last) {
			use = append(use, g.uuids)
			n += len(g.uuids)
		}
	}
	if len(use) == 0 {
		return nil
	}
	return func(uuid []byte) bool {
		for _, g := range use {
			if _, ok := g[string(uuid)]; ok {
				return true
			}
		}
		return false
	}
}

// add records a batch written in full, dropping batches it overlaps or
// follows in the stream (a replay rewrites history from there).
func (ws *windows) add(source, firstSeq, lastSeq string, uuids []string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = map[string]*window{}
	}
	w := ws.m[source]
	if w == nil {
		w = &window{}
		ws.m[source] = w
	}
	kept := w.gens[:0]
	for _, g := range w.gens {
		if firstSeq == "" || seqAfter(firstSeq, g.last) {
			kept = append(kept, g)
		}
	}
	g := gen{first: firstSeq, last: lastSeq, uuids: make(map[string]struct{}, len(uuids))}
	for _, u := range uuids {
		g.uuids[u] = struct{}{}
	}
	w.gens = append(kept, g)
	n := 0
	for i := len(w.gens) - 1; i >= 0; i-- {
		if n >= windowEvents {
			w.gens = w.gens[i+1:]
			break
		}
		n += len(w.gens[i].uuids)
	}
}

// seqAfter compares Kinesis sequence numbers (decimal strings).
func seqAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

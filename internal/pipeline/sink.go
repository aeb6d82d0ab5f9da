package pipeline

import (
	"context"

	"github.com/eventlake/eventlake/internal/lake"
)

// Sink is where Runner and Land put batches: the lake's objects
// (*lake.Writer) or anything that lands the same objects elsewhere (an
// Iceberg table: internal/table's Sink). Runner writes one batch at a
// time; code calling Land from several goroutines with one Sink needs one
// safe for concurrent use (both of these are).
type Sink interface {
	// Write stores every object of the batch called name and sets each
	// one's outcome: Key where it went; Existed when the same batch was
	// stored before and nothing changed; Size, the bytes stored; Err when
	// this object was not stored (others may have been: every object is
	// tried). It returns the objects' errors joined, nil when all are
	// stored. It calls each object's Done, if set, exactly once, when it no
	// longer reads that object's Body. Writing the same name and objects
	// again must add nothing (Existed): a re-run of an input relies on it.
	// Objects with Dead set are dead letters (NDJSON records) and the
	// others hold enriched events, one per line.
	Write(ctx context.Context, name lake.Name, objs []lake.Object) error
}

// RowSink is a Sink that takes each event object's typed rows
// (lake.Object.Rows) from Runner and Land, which have them from the landing
// rules, rather than parsing the object's Body again: Parquet objects and a
// table's data files are typed. Other producers may leave Rows nil: a sink
// must then read Body.
type RowSink interface {
	Sink
	// WantsRows reports whether the sink uses Rows.
	WantsRows() bool
}

// sweeper is a Sink whose stores remove crashed writers' leftovers as they
// write (*lake.Writer over a local folder); Runner reports what they removed.
type sweeper interface {
	// Swept is what was removed so far.
	Swept() lake.Swept
}

var (
	_ Sink    = (*lake.Writer)(nil)
	_ sweeper = (*lake.Writer)(nil)
)

// isNil reports a nil Sink, or a nil *lake.Writer in one.
func isNil(s Sink) bool {
	w, ok := s.(*lake.Writer)
	return s == nil || ok && w == nil
}

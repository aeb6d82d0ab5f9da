package table

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/eventlake/eventlake/internal/lake"
)

// BatchBytes is the input bytes per batch for a pipeline.Runner writing to
// a Sink (pipeline.BatchPolicy.Bytes), an eighth of the pipeline's default.
// Encoding Parquet with arrow-go allocated about ten times a batch's bytes
// (parquet-go, which writes the data files now, a quarter of that), so
// landing 300,000 generated events (129 MB) peaked at 577-644 MB of
// resident memory with the default 64 MiB batches (232 MB for NDJSON
// objects) and at 233-265 MB with 8 MiB batches, no slower; below 8 MiB it
// hardly falls. Smaller batches make more, smaller data files (about 460
// events per file here): compaction's work. docs/iceberg.md,
// BenchmarkSinkPeakRSS.
const BatchBytes = 8 << 20

// Sink lands the landing path's batches in the table: it is a
// pipeline.Sink, so pipeline.Runner (the CLI) and pipeline.Land (the
// functions) write through it as they write through a *lake.Writer. The
// event objects of one batch become one Commit, named after the batch
// (source, first and last position), so a batch written again, by a re-run
// or a redelivery, commits nothing. Dead letters stay NDJSON objects,
// written by a lake writer to its dead-letter store. It is safe for
// concurrent use.
type Sink struct {
	tb   *Table
	dead *lake.Writer
	// handoff, when set, takes each batch staged (Table.Stage) instead of
	// committed: NewStagingSink.
	handoff func(context.Context, Staged) error
}

// NewSink returns a Sink committing to tb and writing dead letters with
// dead, to its dead-letter store (lake.WriterOptions.DeadLetters, or the
// _dead_letters/ folder of its lake). Only dead-letter objects reach dead.
func NewSink(tb *Table, dead *lake.Writer) (*Sink, error) {
	if tb == nil {
		return nil, errors.New("table: sink: nil table")
	}
	if dead == nil {
		return nil, errors.New("table: sink: nil dead-letter writer")
	}
	return &Sink{tb: tb, dead: dead}, nil
}

// NewStagingSink returns a Sink that stages each batch (Table.Stage: its
// data files written, nothing committed) and hands it to handoff, which
// passes it to the table's committer (CommitStaged), for instance over a
// queue. A batch is written once handoff returns; a handoff error fails the
// batch, and its redelivery stages it again (the same files, found in
// place), so the committer may receive a batch twice and commits it once.
func NewStagingSink(tb *Table, dead *lake.Writer, handoff func(context.Context, Staged) error) (*Sink, error) {
	if handoff == nil {
		return nil, errors.New("table: staging sink: nil handoff")
	}
	s, err := NewSink(tb, dead)
	if err != nil {
		return nil, err
	}
	s.handoff = handoff
	return s, nil
}

// Write stores the batch called name: dead-letter objects with the
// dead-letter writer, the events of all other objects in one Commit.
// Outcomes, per object as pipeline.Stats counts them: a new commit makes
// each event object created, Key the first data file (in path order)
// holding its events and Size its share of the data files' bytes (each file is counted once, on
// the object holding its first row); a batch the table already holds makes
// them Existed; a failed commit sets the commit's error on every event
// object of the batch. Each object's Done is called once, after the commit:
// the rows read the objects' bodies in place.
func (s *Sink) Write(ctx context.Context, name lake.Name, objs []lake.Object) error {
	var dead, events []int
	for i := range objs {
		if objs[i].Dead {
			dead = append(dead, i)
		} else {
			events = append(events, i)
		}
	}
	return errors.Join(s.writeDead(ctx, name, objs, dead), s.commit(ctx, name, objs, events))
}

// WantsRows reports that the sink uses each event object's typed rows
// (lake.Object.Rows) when given: its data files are typed
// (pipeline.RowSink).
func (s *Sink) WantsRows() bool { return true }

// Swept is what the dead-letter writer's stores removed of crashed
// writers' leftovers.
func (s *Sink) Swept() lake.Swept { return s.dead.Swept() }

// writeDead writes the objects objs[i], i in idx, with the dead-letter
// writer and copies their outcomes back.
func (s *Sink) writeDead(ctx context.Context, name lake.Name, objs []lake.Object, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	sub := make([]lake.Object, len(idx))
	for k, i := range idx {
		sub[k] = objs[i]
	}
	err := s.dead.Write(ctx, name, sub)
	for k, i := range idx {
		objs[i] = sub[k]
	}
	return err
}

// commit commits the events of objs[i], i in idx, as one batch and sets
// their outcomes.
func (s *Sink) commit(ctx context.Context, name lake.Name, objs []lake.Object, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	defer func() {
		for _, i := range idx {
			if objs[i].Done != nil {
				objs[i].Done()
			}
		}
	}()
	fail := func(err error) error {
		for _, i := range idx {
			objs[i].Err = err
		}
		return err
	}
	rows, owner, err := readRows(name, objs, idx)
	if err != nil {
		return fail(err)
	}
	b := Batch{Source: name.Source, First: name.First, Last: name.Last, Rows: rows}
	var res Result
	if s.handoff == nil {
		res, err = s.tb.Commit(ctx, b)
	} else {
		var st Staged
		st, res, err = s.tb.Stage(ctx, b)
		if err == nil && len(st.Files) > 0 {
			if err = s.handoff(ctx, st); err != nil {
				err = fmt.Errorf("table: hand batch %s to the committer: %w", b.ID(), err)
			}
		}
	}
	switch {
	case err != nil:
		return fail(err)
	case res.AlreadyCommitted:
		for _, i := range idx {
			objs[i].Existed = true
		}
		return nil
	}
	for _, i := range idx {
		objs[i].Key, objs[i].Size = "", 0
	}
	for _, f := range res.DataFiles {
		if len(f.Rows) > 0 {
			objs[owner[f.Rows[0]]].Size += int(f.Size)
		}
		for _, r := range f.Rows {
			if o := &objs[owner[r]]; o.Key == "" {
				o.Key = f.Path
			}
		}
	}
	return nil
}

// readRows reads the rows of objs[i], i in idx, in that order, each
// object's on a core of its own into its place in rows, and the index in
// objs of each row's object: its typed rows (Object.Rows) with each event
// taken from its body, or, without them, its body parsed. Rows view the
// bodies (no second copy of the events); the other columns are copies, a
// fifth or so of an event's bytes.
func readRows(name lake.Name, objs []lake.Object, idx []int) (rows []lake.Row, owner []int, err error) {
	n := 0
	for _, i := range idx {
		n += objs[i].Events
	}
	rows = make([]lake.Row, n)
	owner = make([]int, 0, n)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range idx {
		o := &objs[i]
		from := len(owner)
		for range o.Events {
			owner = append(owner, i)
		}
		g.Go(func() error {
			// Capped at the object's place: more rows than it says
			// are appended elsewhere, and counted below.
			var got []lake.Row
			var err error
			if o.Rows != nil {
				got, err = lake.WithEvents(rows[from:from:from+o.Events], o.Rows, o.Body)
			} else {
				got, err = lake.AppendRows(rows[from:from:from+o.Events], o.Body)
			}
			if err != nil {
				return fmt.Errorf("table: batch %s, object %s: %w", name, o.Dir, err)
			}
			if len(got) != o.Events {
				return fmt.Errorf("table: batch %s, object %s: %d events, it says %d", name, o.Dir, len(got), o.Events)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return rows, owner, nil
}

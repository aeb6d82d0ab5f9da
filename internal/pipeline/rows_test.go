package pipeline

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// rowChecker is a RowSink that checks, for each event object, that the
// rows the Runner hands over are the rows its body parses to, then writes
// the batch with a lake writer.
type rowChecker struct {
	t     *testing.T
	w     *lake.Writer
	wants bool

	mu            sync.Mutex
	objects, rows int
}

func (c *rowChecker) WantsRows() bool { return c.wants }

func (c *rowChecker) Write(ctx context.Context, name lake.Name, objs []lake.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range objs {
		switch {
		case o.Dead || !c.wants:
			if o.Rows != nil {
				c.t.Errorf("batch %s, %s: %d rows handed over (dead: %v, wanted: %v)", name, o.Dir, len(o.Rows), o.Dead, c.wants)
			}
			continue
		case len(o.Rows) != o.Events:
			c.t.Errorf("batch %s, %s: %d rows for %d events", name, o.Dir, len(o.Rows), o.Events)
			continue
		}
		want, err := lake.AppendRows(nil, o.Body)
		if err != nil {
			c.t.Fatal(err)
		}
		got, err := lake.WithEvents(nil, o.Rows, o.Body)
		if err != nil {
			c.t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				c.t.Errorf("batch %s, %s, event %d: handed %+v, the body parses to %+v", name, o.Dir, i, got[i], want[i])
			}
		}
		c.objects++
		c.rows += len(got)
	}
	return c.w.Write(ctx, name, objs)
}

// TestRowsHandedOver: the typed rows the Runner hands a RowSink are, event
// for event, what the objects' bodies parse to, whatever the chunking, with
// duplicates dropped between and within chunks, dead letters and batches
// cut inside chunks; a sink that does not want them gets none.
func TestRowsHandedOver(t *testing.T) {
	x := expect(t, gen.Options{Events: 6000, Seed: 11, Bad: 0.02, Dup: 0.05})
	for _, tc := range []struct {
		name  string
		wants bool
		chunk int
	}{
		{"small chunks", true, 4 << 10},
		{"default chunks", true, 0},
		{"not wanted", false, 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rowChecker{t: t, w: newWriter(t, memStore(t), &lake.WriterOptions{Compression: lake.None}), wants: tc.wants}
			r, err := New(c, Config{Source: "e.jsonl", Batch: BatchPolicy{Events: 777}, ChunkSize: tc.chunk, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Run(context.Background(), bytes.NewReader(x.input))
			if err != nil {
				t.Fatal(err)
			}
			if st.Duplicates == 0 || st.DeadLetters == 0 {
				t.Fatalf("the input has no duplicates (%d) or no dead letters (%d)", st.Duplicates, st.DeadLetters)
			}
			if tc.wants && int64(c.rows) != st.Written {
				t.Errorf("%d rows checked in %d objects, %d events written", c.rows, c.objects, st.Written)
			}
		})
	}
}

// TestLandHandsRows: Land (the functions' path) hands a RowSink the rows of
// a delivered batch, equal to what the bodies parse to, with duplicates
// (within the batch and seen before), dead letters kept in the lake and
// multi-event SQS bodies.
func TestLandHandsRows(t *testing.T) {
	x := expect(t, gen.Options{Events: 3000, Seed: 12, Bad: 0.03, Dup: 0.05})
	var recs []Record
	lines := bytes.Split(bytes.TrimSuffix(x.input, []byte("\n")), []byte("\n"))
	for i := 0; i < len(lines); i++ {
		if i%10 == 0 && i+3 < len(lines) { // an SQS body of three lines
			recs = append(recs, Record{Data: bytes.Join(lines[i:i+3], []byte("\n")), Source: "msg", Lines: true})
			i += 2
			continue
		}
		recs = append(recs, Record{Data: lines[i], Source: "shard"})
	}
	seen := 0
	c := &rowChecker{t: t, w: newWriter(t, memStore(t), &lake.WriterOptions{Compression: lake.None}), wants: true}
	res, err := Land(context.Background(), c, lake.Name{Source: "s", First: "1", Last: "9"}, recs, &LandOptions{
		Seen: func([]byte) bool { seen++; return seen%50 == 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Stats; st.Duplicates == 0 || st.DeadLetters == 0 || int64(c.rows) != st.Written || c.rows == 0 {
		t.Fatalf("%d rows checked in %d objects; stats %+v", c.rows, c.objects, st)
	}
}

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

package query

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// land writes generated events into a folder and returns the expected count
// per event type.
func land(t *testing.T, dir string, f lake.Format, opts gen.Options) {
	t.Helper()
	var in bytes.Buffer
	if _, err := gen.Write(context.Background(), &in, opts, nil); err != nil {
		t.Fatal(err)
	}
	store, err := lake.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := lake.NewWriter(store, &lake.WriterOptions{Format: f})
	r, _ := pipeline.New(w, pipeline.Config{Source: fmt.Sprint("seed", opts.Seed)})
	if _, err := r.Run(context.Background(), &in); err != nil {
		t.Fatal(err)
	}
}

func TestCountsMatchTheGenerator(t *testing.T) {
	dir := t.TempDir()
	a := gen.Options{Events: 3000, Seed: 1}
	b := gen.Options{Events: 2000, Seed: 2}
	land(t, dir, lake.JSONL, a)
	land(t, dir, lake.Parquet, b)
	want := map[string]int64{}
	for _, o := range []gen.Options{a, b} {
		gen.Each(o, func(line []byte, k gen.Kind) error {
			if k.Reason == "" && !k.Dup {
				var typ string
				fmt.Sscanf(string(line[bytes.Index(line, []byte(`"event_name":"`))+14:]), "%s", &typ)
				typ = typ[:bytes.IndexByte([]byte(typ), ':')]
				want[typ]++
			}
			return nil
		})
	}
	res, err := Run(context.Background(), dir, "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("%d event types, want %d: %v", len(res.Rows), len(want), res.Rows)
	}
	for _, row := range res.Rows {
		typ, n := row[0].(string), row[1].(int64)
		if want[typ] != n {
			t.Errorf("%s: %d events, want %d", typ, n, want[typ])
		}
	}
}

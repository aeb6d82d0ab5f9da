package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// TestParquetRoundTrip: the same input landed as NDJSON and as Parquet
// holds the same events in the same partitions; the typed columns agree
// with the event; row groups carry statistics.
func TestParquetRoundTrip(t *testing.T) {
	x := expect(t, gen.Options{Events: 8000, Seed: 5, Bad: 0.01, Dup: 0.01})
	ctx := context.Background()
	land := func(f lake.Format) lake.ReadWriteStore {
		store := memStore(t)
		run(t, store, Config{Source: "e.jsonl", Batch: BatchPolicy{Events: 3000}}, x.input, &lake.WriterOptions{Compression: lake.None, Format: f})
		return store
	}
	jsonl, pq := land(lake.JSONL), land(lake.Parquet)

	want := map[string][]string{} // partition -> sorted events
	for ent, err := range jsonl.List(ctx, "event_type=") {
		if err != nil {
			t.Fatal(err)
		}
		key := ent.Key
		body, err := jsonl.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		dir := key[:strings.LastIndexByte(key, '/')+1]
		want[dir] = append(want[dir], strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")...)
	}
	got := map[string][]string{}
	files := 0
	for ent, err := range pq.List(ctx, "event_type=") {
		if err != nil {
			t.Fatal(err)
		}
		key := ent.Key
		if !strings.HasSuffix(key, lake.ParquetExt) {
			t.Fatalf("%s is not a Parquet object", key)
		}
		files++
		body, err := pq.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := lake.ReadParquet(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		dir := key[:strings.LastIndexByte(key, '/')+1]
		for _, r := range rows {
			var ev map[string]any
			if err := json.Unmarshal([]byte(r.Event), &ev); err != nil {
				t.Fatalf("event column is not JSON: %q", r.Event)
			}
			dt, err := time.Parse(time.RFC3339Nano, ev["created_datetime"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if r.EventUUID != ev["event_uuid"] || r.EventName != ev["event_name"] || r.EventType != ev["event_type"] ||
				r.EventSubtype != ev["event_subtype"] || !r.CreatedDatetime.Truncate(time.Millisecond).Equal(dt) {
				t.Fatalf("typed columns %+v disagree with the event %s", r, r.Event)
			}
			got[dir] = append(got[dir], r.Event)
		}
		f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		for _, rg := range f.Metadata().RowGroups {
			for _, cc := range rg.Columns {
				if cc.MetaData.Codec != format.Snappy {
					t.Fatalf("%s: column %v compressed with %v; landed objects are Snappy", key, cc.MetaData.PathInSchema, cc.MetaData.Codec)
				}
			}
		}
		col, ok := f.Schema().Lookup("created_datetime")
		if !ok {
			t.Fatalf("%s: no created_datetime column", key)
		}
		for _, rg := range f.RowGroups() {
			idx, err := rg.ColumnChunks()[col.ColumnIndex].ColumnIndex()
			if err != nil || idx.NumPages() == 0 || idx.MinValue(0).IsNull() {
				t.Fatalf("%s: no statistics on created_datetime (%v)", key, err)
			}
		}
	}
	if files == 0 || len(got) != len(want) {
		t.Fatalf("%d Parquet partitions, %d NDJSON partitions", len(got), len(want))
	}
	for dir, evs := range want {
		g := got[dir]
		sort.Strings(evs)
		sort.Strings(g)
		if strings.Join(g, "\n") != strings.Join(evs, "\n") {
			t.Fatalf("partition %s: Parquet and NDJSON hold different events (%d vs %d)", dir, len(g), len(evs))
		}
	}
	// Dead letters stay NDJSON.
	n := 0
	for ent, err := range pq.List(ctx, lake.DeadLetterPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		key := ent.Key
		if !strings.HasSuffix(key, ".jsonl") {
			t.Errorf("dead letters %s are not NDJSON", key)
		}
		n++
	}
	if n == 0 {
		t.Error("no dead letters")
	}
}

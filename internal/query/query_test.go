package query

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/compact"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
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
	store, err := lakeurl.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(store, &lake.WriterOptions{Format: f})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(w, pipeline.Config{Source: fmt.Sprint("seed", opts.Seed)})
	if err != nil {
		t.Fatal(err)
	}
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
	res, err := Run(context.Background(), dir, "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1", nil)
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

// TestViewFollowsCompaction lands every event twice (a replayed source),
// compacts with a grace period (so the superseded objects are still
// there), and checks that the SQL view applies the same rule as the Go
// readers: before, each event twice; after, each once; the objects table
// still holds both.
func TestViewFollowsCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := gen.Options{Events: 4000, Seed: 3}
	land(t, dir, lake.JSONL, opts)
	land(t, dir, lake.JSONL, gen.Options{Events: 4000, Seed: 3}) // same events, same objects: nothing added
	var in bytes.Buffer
	if _, err := gen.Write(ctx, &in, opts, nil); err != nil {
		t.Fatal(err)
	}
	store, err := lakeurl.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(store, &lake.WriterOptions{Compression: lake.Zstd})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(w, pipeline.Config{Source: "replay", Batch: pipeline.BatchPolicy{Events: 500}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, &in); err != nil {
		t.Fatal(err)
	}
	count := func(q string) (total, distinct int64) {
		t.Helper()
		res, err := Run(ctx, dir, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0][0].(int64), res.Rows[0][1].(int64)
	}
	const q = "SELECT count(*), count(DISTINCT event_uuid) FROM events"
	total, distinct := count(q)
	if total != 2*distinct || distinct == 0 {
		t.Fatalf("before compaction: %d rows, %d distinct; want each event twice", total, distinct)
	}
	st, err := compact.Run(ctx, store, &compact.Options{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st.Duplicates != distinct || st.Pending == 0 {
		t.Fatalf("compaction %+v: want %d duplicates dropped and superseded objects kept", st, distinct)
	}
	if total2, distinct2 := count(q); total2 != distinct || distinct2 != distinct {
		t.Errorf("after compaction: %d rows, %d distinct; want %d each", total2, distinct2, distinct)
	}
	if total3, _ := count("SELECT count(*), 0::BIGINT FROM events_objects"); total3 != 3*distinct {
		t.Errorf("events_objects: %d rows, want %d (both copies and the compacted one)", total3, 3*distinct)
	}
	// The Go readers' rule gives the same events per type as the SQL view.
	snap, err := lake.Snapshot(ctx, store, "")
	if err != nil {
		t.Fatal(err)
	}
	perType := map[string]int64{}
	for _, e := range snap {
		body, _ := store.Read(ctx, e.Key)
		lines, err := lake.Lines(e.Key, body)
		if err != nil {
			t.Fatal(err)
		}
		perType[strings.TrimPrefix(strings.SplitN(e.Key, "/", 2)[0], "event_type=")] += int64(len(lines))
	}
	res, err := Run(ctx, dir, "SELECT event_type, count(*) FROM events GROUP BY 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(perType) {
		t.Fatalf("%d types in SQL, %d in the snapshot", len(res.Rows), len(perType))
	}
	for _, row := range res.Rows {
		if typ, n := row[0].(string), row[1].(int64); perType[typ] != n {
			t.Errorf("%s: SQL %d, snapshot %d", typ, n, perType[typ])
		}
	}
}

// TestLockedDown: by default a query is one SELECT that reads the lake and
// nothing else: it cannot write a file, read one outside the lake (even
// through a link planted in it), attach a database, install an extension or
// unlock the configuration. --unrestricted lifts all of it.
func TestLockedDown(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "lake")
	land(t, dir, lake.JSONL, gen.Options{Events: 500, Seed: 3})
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("s3cr3t"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "event_type=evil.jsonl"))
	out := filepath.Join(base, "out.csv")
	inLake := filepath.Join(dir, "event_type=x", "forged.jsonl")
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	refused := []string{
		"COPY (SELECT 1) TO '" + q(out) + "'",
		"COPY (SELECT 1) TO '" + q(inLake) + "'",
		"SELECT * FROM read_text('" + q(secret) + "')",
		"SELECT * FROM read_text('" + q(filepath.Join(dir, "event_type=evil.jsonl")) + "')",
		"SELECT * FROM read_text('" + q(dir) + "/../secret.txt')",
		"ATTACH '" + q(filepath.Join(base, "x.db")) + "'",
		"SET enable_external_access = true",
		"RESET lock_configuration",
		"INSTALL httpfs",
		"SELECT 1; COPY (SELECT 1) TO '" + q(out) + "'",
		"CREATE TABLE t AS SELECT 1",
		"SELECT * FROM glob('/etc/*')",
	}
	for _, sql := range refused {
		if res, err := Run(context.Background(), dir, sql, nil); err == nil {
			t.Errorf("%s: ran (%v), want refused", sql, res.Rows)
		}
	}
	for _, p := range []string{out, inLake, filepath.Join(base, "x.db")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	res, err := Run(context.Background(), dir, "SELECT count(*) FROM events", nil)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("a plain SELECT over the lake: %v %v", res, err)
	}
	if _, err := Run(context.Background(), dir, "EXPLAIN SELECT count(*) FROM events", nil); err != nil {
		t.Errorf("EXPLAIN: %v", err)
	}
	res, err = Run(context.Background(), dir, "SELECT content FROM read_text('"+q(secret)+"')", &Options{Unrestricted: true})
	if err != nil || fmt.Sprint(res.Rows) != "[[s3cr3t]]" {
		t.Errorf("unrestricted read: %v %v", res, err)
	}
}

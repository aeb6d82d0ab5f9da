package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/mem"
)

// hostileLines are lines every entry point must treat alike: blank ones,
// bad JSON, missing and wrong fields, a partition folder too long to make,
// invalid UTF-8, a line over the size limit, a repeated event_uuid, CRLF
// endings, and values that try to leave the lake.
func hostileLines(maxSize int) [][]byte {
	ok := func(uuid, name string) []byte {
		return fmt.Appendf(nil, `{"event_uuid":"%s","event_name":"%s","created_at":1710670530,"p":"é😀"}`, uuid, name)
	}
	return [][]byte{
		ok("h1", "pay:order:done"),
		{},
		[]byte("   \t"),
		[]byte("not json"),
		[]byte(`{"event_uuid":"h2","event_name":"nocolon","created_at":1710670530}`),
		[]byte(`{"event_uuid":"h3","event_name":"a:b"}`),
		[]byte(`{"event_uuid":"h4","event_name":"a:b","created_at":"yesterday"}`),
		[]byte(`{"event_uuid":"h5","event_name":"` + strings.Repeat("%", 82) + `:x","created_at":1710670530}`),
		[]byte("{\"event_uuid\":\"h6\",\"event_name\":\"a:b\",\"created_at\":1710670530,\"x\":\"\xff\xfe\"}"),
		append(ok("h7", "big:one"), strings.Repeat(" ", maxSize)...),
		ok("h1", "pay:order:done"), // repeated
		append(ok("h8", "crlf:x"), '\r'),
		ok("h9", "../..:x"),
		ok("h10", "a/b:c"),
		[]byte(`[1,2,3]`),
		[]byte(`null`),
		ok("h11", "pay:order:done"),
	}
}

// TestOneLandingRule feeds the same lines to the CLI pipeline (Run over a
// file) and to the Lambda path (Land over one NDJSON record named like the
// file, as an SQS message; and over one record per line named like the
// line, as Kinesis records), and compares what each stored: the same objects, under the same
// folders, holding the same bytes, and the same counts. Landing rules live
// once; this test is what keeps it so.
func TestOneLandingRule(t *testing.T) {
	const maxSize = 4096
	var in bytes.Buffer
	in.WriteString("\ufeff") // a byte-order mark, as some editors save
	err := gen.Each(gen.Options{Events: 3000, Seed: 11, Bad: 0.05, Dup: 0.03, Oversize: 5000}, func(line []byte, _ gen.Kind) error {
		in.Write(line)
		in.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range hostileLines(maxSize) {
		in.Write(l)
		in.WriteByte('\n')
	}
	input := in.Bytes()
	evOpts := event.Options{MaxSize: maxSize}
	var perLine []Record
	for i, l := range bytes.Split(bytes.TrimSuffix(input, []byte("\n")), []byte("\n")) {
		perLine = append(perLine, Record{Data: l, Source: fmt.Sprintf("events.jsonl:%d", i+1)})
	}
	shapes := map[string][]Record{
		"message": {{Data: input, Source: "events.jsonl", Lines: true}},
		"records": perLine,
	}
	for _, c := range []struct{ layout, shape string }{{"daily", "message"}, {"hourly", "message"}, {"daily", "records"}} {
		layout, recs := c.layout, shapes[c.shape]
		t.Run(c.layout+"/"+c.shape, func(t *testing.T) {
			l, err := lake.ParseLayout(layout)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			cliStore := memStore(t)
			st := run(t, cliStore, Config{Source: "events.jsonl", Layout: l, Event: evOpts}, input, &lake.WriterOptions{Compression: lake.None})
			if st.Batches != 1 {
				t.Fatalf("the CLI cut %d batches; the comparison needs one", st.Batches)
			}

			fnStore := memStore(t)
			w, err := lake.NewWriter(fnStore, &lake.WriterOptions{Compression: lake.None})
			if err != nil {
				t.Fatal(err)
			}
			name := lake.Name{Source: "events", First: "x", Last: "y"}
			res, err := Land(ctx, w, name, recs, &LandOptions{Layout: l, Event: evOpts})
			if err != nil {
				t.Fatal(err)
			}

			cli := objectsByDir(t, cliStore)
			fn := objectsByDir(t, fnStore)
			if len(cli) < 10 {
				t.Fatalf("only %d objects: the input does not exercise enough", len(cli))
			}
			for dir, body := range cli {
				got, ok := fn[dir]
				switch {
				case !ok:
					t.Errorf("%s: only the CLI wrote it", dir)
				case !bytes.Equal(got, body):
					t.Errorf("%s: bodies differ\nCLI:    %.300q\nLambda: %.300q", dir, body, got)
				}
			}
			for dir := range fn {
				if _, ok := cli[dir]; !ok {
					t.Errorf("%s: only the Lambda path wrote it", dir)
				}
			}
			fs := res.Stats
			if st.In != fs.In || st.Blank != fs.Blank || st.Lines != fs.Lines || st.Written != fs.Written ||
				st.Duplicates != fs.Duplicates || st.DeadLetters != fs.DeadLetters || st.Objects != fs.Objects || st.Partitions != fs.Partitions {
				t.Errorf("counts differ:\nCLI    %+v\nLambda %+v", st, fs)
			}
			for r, n := range st.DeadByReason {
				if fs.DeadByReason[r] != n {
					t.Errorf("dead letters %s: CLI %d, Lambda %d", r, n, fs.DeadByReason[r])
				}
			}
		})
	}
}

// objectsByDir returns each object's body by its key without the batch
// name: the folder (dead letters under their prefix) and the extension.
func objectsByDir(t *testing.T, s lake.ReadLister) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	var keys []string
	for ent, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ent.Key)
	}
	sort.Strings(keys)
	for _, k := range keys {
		body, err := lake.ReadAll(ctx, s, k)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndexByte(k, '/')
		dir := k[:i+1]
		if _, dup := out[dir]; dup {
			t.Fatalf("two objects in %s: the comparison needs one batch", dir)
		}
		if !strings.HasSuffix(k, ".jsonl") {
			t.Errorf("%s: not an NDJSON key", k)
		}
		out[dir] = body
	}
	return out
}

// memStore is an empty memory store.
func memStore(t *testing.T) lake.ReadWriteStore {
	t.Helper()
	s := mem.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// newWriter is a lake writer over store.
func newWriter(t testing.TB, store lake.Store, opts *lake.WriterOptions) *lake.Writer {
	t.Helper()
	w, err := lake.NewWriter(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// newRunner is a Runner writing with w.
func newRunner(t testing.TB, w Sink, cfg Config) *Runner {
	t.Helper()
	r, err := New(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

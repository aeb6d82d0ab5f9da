package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// expectation is what the lake must hold for a generated stream, worked out
// with encoding/json and the standard library only.
type expectation struct {
	good    map[string]string // event_uuid -> partition folder (daily layout)
	bad     map[string]event.Reason
	dups    int
	badN    int
	input   []byte
	reasons map[event.Reason]int
}

func expect(t *testing.T, opts gen.Options) expectation {
	t.Helper()
	x := expectation{good: map[string]string{}, bad: map[string]event.Reason{}, reasons: map[event.Reason]int{}}
	var in bytes.Buffer
	err := gen.Each(opts, func(line []byte, k gen.Kind) error {
		in.Write(line)
		in.WriteByte('\n')
		switch {
		case k.Dup:
			x.dups++
		case k.Reason != "":
			x.bad[string(line)] = k.Reason
			x.badN++
			x.reasons[k.Reason]++
		default:
			var ev struct {
				UUID      string          `json:"event_uuid"`
				Name      string          `json:"event_name"`
				CreatedAt json.RawMessage `json:"created_at"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			x.good[ev.UUID] = fmt.Sprintf("event_type=%s/created_date=%s/", strings.Split(ev.Name, ":")[0], dateOf(t, string(ev.CreatedAt)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	x.input = in.Bytes()
	return x
}

// dateOf reads the generator's created_at forms: seconds, seconds.mmm, or
// milliseconds.
func dateOf(t *testing.T, v string) string {
	intPart, _, _ := strings.Cut(v, ".")
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		t.Fatalf("created_at %q: %v", v, err)
	}
	if n >= 1e11 {
		n /= 1000
	}
	return time.Unix(n, 0).UTC().Format("2006-01-02")
}

// readLake returns, per event_uuid, the keys of the objects holding it, and
// the dead letters.
func readLake(t *testing.T, s lake.ReadWriteStore) (events map[string][]string, lines map[string][]byte, dead []deadletter.Record) {
	t.Helper()
	ctx := context.Background()
	events, lines = map[string][]string{}, map[string][]byte{}
	for ent, err := range s.List(ctx, "") {
		key := ent.Key
		if err != nil {
			t.Fatal(err)
		}
		body, err := lake.ReadAll(ctx, s, key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(body, []byte("\n")) {
			t.Fatalf("%s does not end in a newline", key)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			if strings.HasPrefix(key, lake.DeadLetterPrefix) {
				r, err := deadletter.Parse(line)
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if !strings.HasPrefix(key, lake.DeadLetterPrefix+"reason="+r.Reason+"/") {
					t.Errorf("dead letter with reason %s in %s", r.Reason, key)
				}
				dead = append(dead, r)
				continue
			}
			var ev struct {
				UUID string `json:"event_uuid"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatalf("%s: invalid JSON line %q", key, line)
			}
			events[ev.UUID] = append(events[ev.UUID], key)
			lines[ev.UUID] = append([]byte(nil), line...)
		}
	}
	return events, lines, dead
}

func run(t *testing.T, store lake.Store, cfg Config, input []byte, wopts *lake.WriterOptions) Stats {
	t.Helper()
	w, err := lake.NewWriter(store, wopts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(context.Background(), bytes.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEndToEnd: every valid event exactly once in the right partition,
// enriched; every bad one a dead letter with the right reason and its
// original bytes; counts add up; re-running adds nothing.
func TestEndToEnd(t *testing.T) {
	opts := gen.Options{Events: 12000, Seed: 3, Bad: 0.02, Dup: 0.02, Oversize: 5000}
	x := expect(t, opts)
	for _, c := range []lake.Compression{lake.None, lake.Gzip, lake.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			store, err := lakeurl.Open(context.Background(), t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			// Small batches and chunks, so that cuts, chunk edges and
			// duplicates across batches all happen.
			cfg := Config{Source: "events.jsonl", Batch: BatchPolicy{Events: 2800, Bytes: 400 << 10}, ChunkSize: 64 << 10, Event: event.Options{MaxSize: 4096}}
			st := run(t, store, cfg, x.input, &lake.WriterOptions{Compression: c})

			if st.In != int64(opts.Events) || st.Written != int64(len(x.good)) || st.DeadLetters != int64(x.badN) || st.Duplicates != int64(x.dups) {
				t.Errorf("stats in=%d written=%d dead=%d dups=%d; want %d %d %d %d", st.In, st.Written, st.DeadLetters, st.Duplicates, opts.Events, len(x.good), x.badN, x.dups)
			}
			if st.In != st.Written+st.AlreadyPresent+st.DeadLetters+st.Duplicates+st.Unwritten {
				t.Errorf("counts do not add up: %+v", st)
			}
			for r, n := range x.reasons {
				if st.DeadByReason[r] != int64(n) {
					t.Errorf("dead letters %s = %d, want %d", r, st.DeadByReason[r], n)
				}
			}

			events, lines, dead := readLake(t, store)
			if len(events) != len(x.good) {
				t.Errorf("lake holds %d distinct events, want %d", len(events), len(x.good))
			}
			for uuid, dir := range x.good {
				keys := events[uuid]
				if len(keys) != 1 {
					t.Fatalf("event %s found %d times (%v), want once", uuid, len(keys), keys)
				}
				if !strings.HasPrefix(keys[0], dir) {
					t.Fatalf("event %s in %s, want under %s", uuid, keys[0], dir)
				}
				var ev map[string]any
				json.Unmarshal(lines[uuid], &ev)
				if typ, _ := ev["event_type"].(string); "event_type="+typ+"/" != dir[:strings.Index(dir, "/")+1] {
					t.Fatalf("event %s has event_type %v, stored in %s", uuid, ev["event_type"], dir)
				}
				if dt, _ := ev["created_datetime"].(string); !strings.HasPrefix(dt, dir[strings.Index(dir, "created_date=")+13:len(dir)-1]+"T") {
					t.Fatalf("event %s created_datetime %v does not match %s", uuid, ev["created_datetime"], dir)
				}
			}
			if len(dead) != x.badN {
				t.Errorf("%d dead letters, want %d", len(dead), x.badN)
			}
			for _, d := range dead {
				original := d.Original()
				if d.Truncated {
					// A too_large event keeps its first MaxSize bytes.
					line, _ := strconv.Atoi(strings.TrimPrefix(d.Source, "events.jsonl:"))
					full := nthLine(x.input, line)
					if len(original) != cfg.Event.MaxSize || !bytes.HasPrefix(full, original) || d.Size != int64(len(full)) {
						t.Fatalf("truncated dead letter keeps %d bytes of %d (size %d), want the first %d", len(original), len(full), d.Size, cfg.Event.MaxSize)
					}
					original = full
				}
				want, ok := x.bad[string(original)]
				if !ok {
					t.Fatalf("dead letter with unknown original %q", original)
				}
				if event.Reason(d.Reason) != want {
					t.Errorf("dead letter %q: reason %s, want %s", d.Original(), d.Reason, want)
				}
				if !strings.HasPrefix(d.Source, "events.jsonl:") || d.Error == "" {
					t.Errorf("dead letter lacks source or message: %+v", d)
				}
				line, _ := strconv.Atoi(strings.TrimPrefix(d.Source, "events.jsonl:"))
				if got := nthLine(x.input, line); !bytes.Equal(got, original) {
					t.Errorf("dead letter source %s points at %q, not the original", d.Source, got)
				}
			}

			// Re-running the same input adds nothing.
			objects := count(t, store)
			again := run(t, store, cfg, x.input, &lake.WriterOptions{Compression: c})
			if again.Objects != 0 || again.Written != 0 || again.AlreadyPresent != int64(len(x.good)) {
				t.Errorf("re-run created %d objects, wrote %d, found %d present; want 0, 0, %d", again.Objects, again.Written, again.AlreadyPresent, len(x.good))
			}
			if n := count(t, store); n != objects {
				t.Errorf("re-run changed the object count from %d to %d", objects, n)
			}
		})
	}
}

func nthLine(in []byte, n int) []byte {
	for i := 1; i < n; i++ {
		in = in[bytes.IndexByte(in, '\n')+1:]
	}
	if j := bytes.IndexByte(in, '\n'); j >= 0 {
		return in[:j]
	}
	return in
}

func count(t *testing.T, s lake.ReadWriteStore) int {
	n := 0
	for _, err := range s.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestSameBatchesWhateverTheChunking: object names depend on the input, not
// on how it was read.
func TestSameBatchesWhateverTheChunking(t *testing.T) {
	x := expect(t, gen.Options{Events: 5000, Seed: 9, Bad: 0.01, Dup: 0.01})
	keys := func(chunk, workers int) []string {
		store := memStore(t)
		run(t, store, Config{Source: "e.jsonl", Batch: BatchPolicy{Events: 1234}, ChunkSize: chunk, Workers: workers}, x.input, nil)
		var out []string
		for ent, err := range store.List(context.Background(), "") {
			if err != nil {
				t.Fatal(err)
			}
			k := ent.Key
			out = append(out, k)
		}
		return out
	}
	a, b := keys(4096, 1), keys(1<<20, 3)
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a) == 0 {
		t.Fatalf("different objects for different chunking:\n%v\n%v", a, b)
	}
}

// TestHostileValuesStayInside: whatever event_type holds, every object is
// inside the lake's folder, one partition level deep.
func TestHostileValuesStayInside(t *testing.T) {
	var in bytes.Buffer
	for i, name := range []string{"../../../etc:passwd", "/abs:x", "a/../../b:c", "..:..", ".:.", "%2e%2e:x", "=:=", "\\u002e\\u002e\\u002f:x", "C\\\\:x", "\\u0000:x"} {
		fmt.Fprintf(&in, `{"event_uuid":"u%d","event_name":"%s","created_at":1}`+"\n", i, name)
	}
	root := t.TempDir()
	store, err := lakeurl.Open(context.Background(), root+"/lake", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := run(t, store, Config{Source: "h.jsonl", Layout: lake.LayoutType}, in.Bytes(), &lake.WriterOptions{Compression: lake.None})
	if st.Written != 10 || st.DeadLetters != 0 {
		t.Fatalf("written %d, dead %d; want 10, 0 (%+v)", st.Written, st.DeadLetters, st)
	}
	seen := map[string]bool{}
	for ent, err := range store.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		key := ent.Key
		parts := strings.Split(key, "/")
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "event_type=") {
			t.Errorf("object %q is not one partition deep", key)
		}
		seen[parts[0]] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d partitions, want 10 distinct: %v", len(seen), seen)
	}
	outside, err := filepathGlob(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(outside) != 1 {
		t.Errorf("files outside the lake: %v", outside)
	}
}

// failingStore fails every create after the first n.
type failingStore struct {
	lake.Store
	n int
}

func (f *failingStore) Create(ctx context.Context, key string, body ...[]byte) error {
	if f.n <= 0 {
		return errors.New("disk full")
	}
	f.n--
	return f.Store.Create(ctx, key, body...)
}

func TestWriteFailureIsAnErrorAndCounted(t *testing.T) {
	x := expect(t, gen.Options{Events: 20000, Seed: 4})
	mem := memStore(t)
	w := newWriter(t, &failingStore{Store: mem, n: 3}, &lake.WriterOptions{Concurrency: 1})
	r := newRunner(t, w, Config{Batch: BatchPolicy{Events: 2000}})
	st, err := r.Run(context.Background(), bytes.NewReader(x.input))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if st.Unwritten == 0 || st.In != st.Written+st.AlreadyPresent+st.DeadLetters+st.Duplicates+st.Unwritten {
		t.Errorf("counts after failure do not add up: %+v", st)
	}
}

// TestInterruptFlushes: a cancelled run writes what it read and says so.
func TestInterruptFlushes(t *testing.T) {
	pr, pw := io.Pipe()
	store := memStore(t)
	w := newWriter(t, store, nil)
	r := newRunner(t, w, Config{Source: "stdin"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Stats)
	go func() {
		st, err := r.Run(ctx, pr)
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	for i := range 100 {
		fmt.Fprintf(pw, `{"event_uuid":"u%d","event_name":"a:b","created_at":1}`+"\n", i)
	}
	for r.Stats().In < 100 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	st := <-done
	if !st.Interrupted || st.Written != 100 {
		t.Fatalf("interrupted=%v written=%d, want true 100", st.Interrupted, st.Written)
	}
	pw.Close()
}

// TestPeriodCutsStreams: with a period, a slow stream is written without
// waiting for the batch to fill.
func TestPeriodCutsStreams(t *testing.T) {
	pr, pw := io.Pipe()
	store := memStore(t)
	w := newWriter(t, store, nil)
	r := newRunner(t, w, Config{Source: "stdin", Batch: BatchPolicy{Period: 50 * time.Millisecond}})
	done := make(chan error)
	go func() { _, err := r.Run(context.Background(), pr); done <- err }()
	fmt.Fprintln(pw, `{"event_uuid":"u1","event_name":"a:b","created_at":1}`)
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Written < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the event was not written while the stream stayed open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func filepathGlob(root string) ([]string, error) { return filepath.Glob(filepath.Join(root, "*")) }

package compact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
)

func TestCompactMergesAndRemovesDuplicates(t *testing.T) {
	for name, open := range stores(t) {
		for _, f := range []lake.Format{lake.JSONL, lake.Parquet} {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				r := open(t)
				smallLake(t, r, f)
				before, objsBefore := view(t, r)
				dups := 0
				for _, c := range before {
					dups += len(c) - 1
				}
				if dups != 26 {
					t.Fatalf("the lake holds %d duplicate copies, want 25 replayed + 1", dups)
				}
				st, err := Run(context.Background(), r, &Options{Grace: 10 * time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				after, objsAfter := view(t, r)
				checkOnce(t, before, after)
				if got := after["11111111-0000-4000-8000-000000000000"][0]; !strings.Contains(got, "early copy") {
					t.Errorf("kept %s, want the copy with the earlier created_at", got)
				}
				if st.Duplicates != int64(dups) || st.Events != int64(len(before)) || st.Partitions != 3 || objsAfter != 3 {
					t.Errorf("stats %+v, %d objects after (%d before); want %d duplicates, %d events, 3 partitions, 3 objects",
						st, objsAfter, objsBefore, dups, len(before))
				}
				for _, k := range keys(t, r) {
					if got, _, ok := lake.FormatOf(k); strings.HasPrefix(k, "event_type=") && (!ok || got != f) {
						t.Errorf("%s: format %s, want %s as the inputs", k, got, f)
					}
				}
				// The default grace keeps the old objects (hidden) for a while.
				if st.Pending != objsBefore || st.Deleted != 0 {
					t.Errorf("pending %d deleted %d, want %d and 0", st.Pending, st.Deleted, objsBefore)
				}
				// Once the grace period is over they go; nothing else changes.
				later := func() time.Time { return time.Now().Add(11 * time.Minute) }
				st, err = Run(context.Background(), r, &Options{Grace: 10 * time.Minute, Now: later})
				if err != nil {
					t.Fatal(err)
				}
				if st.Deleted != objsBefore || st.Rounds != 0 {
					t.Errorf("second run: %+v, want %d deleted and no round", st, objsBefore)
				}
				again, _ := view(t, r)
				if !maps.EqualFunc(after, again, slices.Equal) {
					t.Error("the view changed when superseded objects were deleted")
				}
				n := 0
				for _, k := range keys(t, r) {
					if strings.HasPrefix(k, "event_type=") {
						n++
					}
				}
				if n != 3 {
					t.Errorf("%d partition objects left, want 3", n)
				}
			})
		}
	}
}

// perPartition is what a reader sees of each partition of a view, as one
// comparable string.
func perPartition(t *testing.T, v map[string][]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, copies := range v {
		for _, l := range copies {
			info, err := event.NewEnricher(nil).Check([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			p := string(lake.LayoutDaily.AppendPath(nil, info))
			out[p] += l + "\n"
		}
	}
	for p, s := range out {
		ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		slices.Sort(ls)
		out[p] = strings.Join(ls, "\n")
	}
	return out
}

// TestCompactCrashAtEveryStep stops a compaction before each step that
// changes the store, checks what readers see, then runs it again and
// checks it ends exactly as an uninterrupted one.
func TestCompactCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	opts := func(step func(string) error) *Options {
		// Small objects and rounds so that a partition takes several
		// rounds and objects: more steps to crash at.
		return &Options{TargetSize: 300, MaxRoundBytes: 2000, minRoundBytes: 1, Concurrency: 1, step: step}
	}
	clean := memLake(t)
	smallLake(t, clean, lake.JSONL)
	before, _ := view(t, clean)
	perPart := func(v map[string][]string) map[string]string { return perPartition(t, v) }
	var steps []string
	st, err := Run(ctx, clean, opts(func(s string) error { steps = append(steps, s); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rounds < 2*st.Partitions {
		t.Fatalf("%d rounds in %d partitions: the test needs partitions that take several", st.Rounds, st.Partitions)
	}
	after, _ := view(t, clean)
	checkOnce(t, before, after)
	wantKeys := keys(t, clean)
	if len(steps) < 20 {
		t.Fatalf("only %d steps: %q", len(steps), steps)
	}
	pb, pa := perPart(before), perPart(after)
	crash := errors.New("crash")
	for i, s := range steps {
		r := memLake(t)
		smallLake(t, r, lake.JSONL)
		n := 0
		_, err := Run(ctx, r, opts(func(string) error {
			if n++; n > i {
				return crash
			}
			return nil
		}))
		if !errors.Is(err, crash) {
			t.Fatalf("crash before step %d (%s): err = %v", i, s, err)
		}
		mid, _ := view(t, r)
		for p, got := range perPart(mid) {
			// Each partition is in one state or another of its rounds:
			// every event there, none twice beyond its copies before.
			if got != pb[p] && got != pa[p] {
				for u, c := range mid {
					if len(c) > len(before[u]) {
						t.Fatalf("crash before %s: %s seen %d times, %d before", s, u, len(c), len(before[u]))
					}
				}
			}
		}
		if !slices.Equal(slices.Sorted(maps.Keys(mid)), slices.Sorted(maps.Keys(before))) {
			t.Fatalf("crash before %s: a reader misses events (%d of %d event_uuids)", s, len(mid), len(before))
		}
		for u, c := range mid {
			if len(c) > len(before[u]) {
				t.Fatalf("crash before %s: %s seen %d times, %d before", s, u, len(c), len(before[u]))
			}
		}
		if _, err := Run(ctx, r, opts(nil)); err != nil {
			t.Fatalf("run after a crash before %s: %v", s, err)
		}
		final, _ := view(t, r)
		if !maps.EqualFunc(final, after, slices.Equal) {
			t.Fatalf("crash before %s: after a second run, the view differs from an uninterrupted run", s)
		}
		if got := keys(t, r); !slices.Equal(got, wantKeys) {
			t.Fatalf("crash before %s: after a second run, the objects differ from an uninterrupted run:\n got %q\nwant %q", s, got, wantKeys)
		}
	}
	t.Logf("crashed before each of %d steps", len(steps))
}

// TestCompactCountsCommittedRounds: a round that does not commit (stopped,
// or lost to another compaction) counts nothing, duplicates included.
func TestCompactCountsCommittedRounds(t *testing.T) {
	ctx := context.Background()
	r := memLake(t)
	smallLake(t, r, lake.JSONL)
	crash := errors.New("crash")
	st, err := Run(ctx, r, &Options{step: func(name string) error {
		if strings.HasSuffix(name, " commit") {
			return crash
		}
		return nil
	}})
	if !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the crash", err)
	}
	st.Partition.Err = nil
	if want := (Partition{}); st.Partition != want || st.Partitions != 3 {
		t.Errorf("stats %+v after rounds that never committed; want 3 partitions and nothing else", st)
	}
	if st, err = Run(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if st.Rounds != 3 || st.Duplicates != 26 || st.Events != 61 {
		t.Errorf("stats %+v; want 3 rounds, 26 duplicates dropped, 61 events", st)
	}
}

// TestCompactConcurrentRuns runs compactions at once on one lake while a
// reader keeps reading: the reader never misses an event or sees one more
// often than it was landed, and the end is every event once.
func TestCompactConcurrentRuns(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			r := open(t)
			smallLake(t, r, lake.JSONL)
			var in bytes.Buffer
			if _, err := gen.Write(context.Background(), &in, gen.Options{Events: 1500, Seed: 7, Span: 3 * time.Hour, Dup: 0.02}, nil); err != nil {
				t.Fatal(err)
			}
			// As many objects as 3,000 events in batches of 300 make, half
			// the bytes: rounds still conflict, at half the cost under -race.
			landLines(t, r, lake.JSONL, "gen", 150, in.Bytes())
			landLines(t, r, lake.JSONL, "genreplay", 125, in.Bytes()[:in.Len()/2])
			before, _ := view(t, r)

			ctx, stop := context.WithCancel(context.Background())
			var reads int
			readerDone := make(chan error)
			go func() {
				defer close(readerDone)
				var err error
				reads, err = readUntilDone(ctx, r, before)
				readerDone <- err
			}()
			var wg sync.WaitGroup
			errs := make([]error, 4)
			stats := make([]Stats, 4)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					stats[i], errs[i] = Run(context.Background(), r, &Options{TargetSize: 4 << 10, MaxRoundBytes: 32 << 10, Concurrency: 2})
				}()
			}
			wg.Wait()
			stop()
			if err := <-readerDone; err != nil {
				t.Fatal(err)
			}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			after, _ := view(t, r)
			checkOnce(t, before, after)
			conflicts, rounds := 0, 0
			for _, s := range stats {
				conflicts += s.Conflicts
				rounds += s.Rounds
			}
			t.Logf("%d reads during 4 concurrent runs: %d rounds committed, %d commits lost and planned again", reads, rounds, conflicts)
			// A last run finds nothing to do and deletes what is left over.
			st, err := Run(context.Background(), r, &Options{TargetSize: 4 << 10, MaxRoundBytes: 32 << 10})
			if err != nil {
				t.Fatal(err)
			}
			if st.Rounds != 0 {
				t.Errorf("a run after the others committed %d rounds", st.Rounds)
			}
			for _, k := range keys(t, r) {
				if lake.IsCompacted(k) {
					m, err := lake.LatestManifest(context.Background(), r, lake.PartitionOf(k))
					if err != nil {
						t.Fatal(err)
					}
					if !m.Visible(k) {
						t.Errorf("abandoned output %s left behind", k)
					}
				}
			}
		})
	}
}

// readUntilDone reads the lake as a reader would until ctx is done, and
// fails when a view misses an event_uuid of before or holds one more often.
func readUntilDone(ctx context.Context, r lake.ReadWriteStore, before map[string][]string) (reads int, err error) {
	for ctx.Err() == nil {
		v, _, err := readView(ctx, r)
		if ctx.Err() != nil {
			return reads, nil // stopped while reading
		}
		if err != nil {
			return reads, err
		}
		reads++
		if len(v) != len(before) {
			return reads, fmt.Errorf("a reader saw %d event_uuids, want %d", len(v), len(before))
		}
		for u, c := range v {
			if len(c) > len(before[u]) {
				return reads, fmt.Errorf("a reader saw %s %d times, landed %d", u, len(c), len(before[u]))
			}
		}
	}
	return reads, nil
}

func TestCompactRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	r := memLake(t)
	if _, err := Run(ctx, r, &Options{Prefix: "../x/"}); err == nil || !strings.Contains(err.Error(), "partition") {
		t.Errorf("bad prefix: %v", err)
	}
	// An object that is not eventlake's enriched events stops its
	// partition, with the object and line named, and nothing changes.
	smallLake(t, r, lake.JSONL)
	bad := "event_type=auth/created_date=2024-11-27/other-1-2-3.jsonl"
	if err := r.Create(ctx, bad, []byte(`{"not":"an event"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	before := keys(t, r)
	st, err := Run(ctx, r, nil)
	if err == nil || !strings.Contains(err.Error(), bad+" line 1") {
		t.Fatalf("err = %v, want one naming %s line 1", err, bad)
	}
	if st.Partitions != 3 || st.Rounds != 2 {
		t.Errorf("stats %+v: want the other 2 partitions compacted", st)
	}
	for _, k := range before {
		if strings.HasPrefix(k, "event_type=auth/") {
			if _, err := r.Read(ctx, k); err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}
	}
}

// readCounter counts reads by key.
type readCounter struct {
	lake.ReadWriteStore
	mu    sync.Mutex
	reads map[string]int
}

func (r *readCounter) Read(ctx context.Context, key string) ([]byte, error) {
	r.mu.Lock()
	r.reads[key]++
	r.mu.Unlock()
	return r.ReadWriteStore.Read(ctx, key)
}

// TestCompactLaterCopies: copies of events already compacted, landed
// later, are dropped by the next compaction, which reads only the
// compacted objects whose created_at range can hold a copy.
func TestCompactLaterCopies(t *testing.T) {
	ctx := context.Background()
	r := &readCounter{ReadWriteStore: memLake(t), reads: map[string]int{}}
	const day = 1732665600
	var all, late bytes.Buffer
	for i := range 1000 {
		line := eventLine(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "payment:order:completed", day+int64(i*60), "x")
		all.WriteString(line)
		if i >= 990 {
			late.WriteString(line) // the last ten minutes again
		}
	}
	landLines(t, r, lake.JSONL, "a", 100, all.Bytes())
	opts := &Options{TargetSize: 1 << 10} // many small, "full" objects
	if _, err := Run(ctx, r, opts); err != nil {
		t.Fatal(err)
	}
	landLines(t, r, lake.JSONL, "late", 20, late.Bytes())
	landLines(t, r, lake.JSONL, "new", 20, []byte(eventLine("22222222-0000-4000-8000-000000000000", "payment:order:completed", day+999*60, "new")))
	clear(r.reads)
	st, err := Run(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Duplicates != 10 {
		t.Errorf("second run: %+v; want 10 duplicates dropped", st)
	}
	m, err := lake.LatestManifest(ctx, r, "event_type=payment/created_date=2024-11-27/")
	if err != nil {
		t.Fatal(err)
	}
	read, notRead := 0, 0
	for _, o := range m.Live {
		if r.reads[o.Key] > 0 {
			read++
		} else {
			notRead++
		}
	}
	if read == 0 || notRead < 5*read {
		t.Errorf("the second run read %d of %d compacted objects; want only those around the late copies", read, read+notRead)
	}
	v, _ := view(t, r)
	if len(v) != 1001 {
		t.Errorf("%d events visible, want 1001", len(v))
	}
	for u, c := range v {
		if len(c) != 1 {
			t.Errorf("%s seen %d times", u, len(c))
		}
	}
}

// TestCompactLayoutsAndFormats: every layout's partitions compact, and a
// lake converts between NDJSON and Parquet without losing a byte of any
// event.
func TestCompactLayoutsAndFormats(t *testing.T) {
	ctx := context.Background()
	var in bytes.Buffer
	if _, err := gen.Write(ctx, &in, gen.Options{Events: 2000, Seed: 11, Span: 6 * time.Hour, Dup: 0.02}, nil); err != nil {
		t.Fatal(err)
	}
	parquet, zstd := lake.Parquet, lake.Zstd
	for _, layout := range []lake.Layout{lake.LayoutDaily, lake.LayoutType, lake.LayoutHourly} {
		for _, to := range []struct {
			name string
			f    *lake.Format
			c    *lake.Compression
			ext  string
		}{{"same", nil, nil, ".jsonl.gz"}, {"parquet", &parquet, nil, ".parquet"}, {"zstd", nil, &zstd, ".jsonl.zst"}} {
			t.Run(layout.String()+"/"+to.name, func(t *testing.T) {
				r := memLake(t)
				w, err := lake.NewWriter(r, &lake.WriterOptions{Compression: lake.Gzip})
				if err != nil {
					t.Fatal(err)
				}
				p, err := pipeline.New(w, pipeline.Config{Source: "g", Layout: layout, Batch: pipeline.BatchPolicy{Events: 200}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Run(ctx, bytes.NewReader(in.Bytes())); err != nil {
					t.Fatal(err)
				}
				before, _ := view(t, r)
				st, err := Run(ctx, r, &Options{Format: to.f, Compression: to.c})
				if err != nil {
					t.Fatal(err)
				}
				after, n := view(t, r)
				if !maps.EqualFunc(before, after, slices.Equal) {
					t.Fatal("the events changed")
				}
				if n != st.Partitions || st.Rounds != st.Partitions {
					t.Errorf("%d objects visible, %+v; want one per partition", n, st)
				}
				snap, err := lake.Snapshot(ctx, r, "")
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range snap {
					if !strings.HasSuffix(e.Key, to.ext) || strings.Count(e.Key, "/") != len(layout.Keys()) {
						t.Errorf("%s: want %s, %d folders deep", e.Key, to.ext, len(layout.Keys()))
					}
				}
			})
		}
	}
}

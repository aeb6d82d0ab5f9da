package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/laketest"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// poison are valid events whose partition folder no file system can make:
// their event types escape to folder names over 255 bytes.
var poison = []string{
	`{"event_uuid":"p1","event_name":"` + strings.Repeat("%", 82) + `:x","created_at":1710633600}`,
	`{"event_uuid":"p2","event_name":"` + strings.Repeat(`\u0001`, 82) + `:x","created_at":1710633600}`,
	`{"event_uuid":"p3","event_name":"` + strings.Repeat("/", 128) + `:x","created_at":1710633600}`,
}

// landed is what a landing path left in a lake: the enriched lines of the
// events, sorted, and the dead letters as "reason original".
func landed(t *testing.T, s lake.ReadWriteStore) (events, dead []string) {
	t.Helper()
	evs, lines, dls := readLake(t, s)
	for uuid := range evs {
		events = append(events, string(lines[uuid]))
	}
	for _, d := range dls {
		dead = append(dead, d.Reason+" "+string(d.Original()))
	}
	slices.Sort(events)
	slices.Sort(dead)
	return events, dead
}

// TestPoisonPartitionIsADeadLetter: an event whose partition folder cannot
// be made is a dead letter partition_too_long in both landing paths (the
// CLI pipeline and Land, the Lambda's), decided before any write; it never
// fails its batch, and both paths leave the same events and dead letters.
func TestPoisonPartitionIsADeadLetter(t *testing.T) {
	ctx := context.Background()
	x := expect(t, gen.Options{Events: 3000, Seed: 12})
	half := bytes.IndexByte(x.input[len(x.input)/2:], '\n') + len(x.input)/2 + 1
	input := []byte(poison[0] + "\n" + string(x.input[:half]) + poison[1] + "\n" + string(x.input[half:]) + poison[2] + "\n")

	cli, err := lakeurl.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := run(t, cli, Config{Source: "poison.jsonl", Batch: BatchPolicy{Events: 1000}}, input, &lake.WriterOptions{Compression: lake.None})
	if st.Written != int64(len(x.good)) || st.DeadByReason[event.ReasonPartitionTooLong] != 3 || st.Unwritten != 0 {
		t.Fatalf("CLI path: written %d, partition_too_long %d, unwritten %d; want %d, 3, 0", st.Written, st.DeadByReason[event.ReasonPartitionTooLong], st.Unwritten, len(x.good))
	}

	lambda, err := lakeurl.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, lambda, &lake.WriterOptions{Compression: lake.None})
	var recs []Record
	for i, line := range bytes.Split(bytes.TrimSuffix(input, []byte("\n")), []byte("\n")) {
		recs = append(recs, Record{Data: line, Source: fmt.Sprintf("shardId-0:%d", i)})
	}
	res, err := Land(ctx, w, lake.Name{Source: "shardId-0", First: "0", Last: "3002"}, recs, nil)
	if err != nil || len(res.Failed) != 0 || res.Stats.DeadByReason[event.ReasonPartitionTooLong] != 3 {
		t.Fatalf("Lambda path: err %v, failed %v, stats %+v", err, res.Failed, res.Stats)
	}

	cliEvents, cliDead := landed(t, cli)
	lambdaEvents, lambdaDead := landed(t, lambda)
	if !slices.Equal(cliEvents, lambdaEvents) || !slices.Equal(cliDead, lambdaDead) {
		t.Errorf("the paths differ: %d/%d events, dead letters\n%q\n%q", len(cliEvents), len(lambdaEvents), cliDead, lambdaDead)
	}
	if len(cliDead) != 3 || !strings.HasPrefix(cliDead[0], "partition_too_long {") {
		t.Errorf("dead letters %q", cliDead)
	}
}

var xs = bytes.Repeat([]byte("x"), 64<<10)

// endless yields n bytes of 'x' without holding them.
type endless struct{ n int64 }

func (r *endless) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n)], xs)
	r.n -= int64(k)
	return k, nil
}

// TestGiantLineKeepsItsStartAndTrueSize: a line far over the limit is a
// too_large dead letter holding the event's first MaxSize bytes, its true
// size and a message saying that size; the rest is skipped unread, so the
// run allocates a small fraction of the line.
func TestGiantLineKeepsItsStartAndTrueSize(t *testing.T) {
	const size = 300 << 20 // over the reader's old 64 MiB cut
	head := `{"event_uuid":"big","event_name":"a:b","created_at":1710633600,"pad":"`
	in := io.MultiReader(strings.NewReader(head), &endless{n: size - int64(len(head)) - 2}, strings.NewReader("\"}\n"+`{"event_uuid":"after","event_name":"a:b","created_at":1710633600}`+"\n"))
	store := memStore(t)
	w := newWriter(t, store, &lake.WriterOptions{Compression: lake.None})
	r, err := New(w, Config{Source: "big.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := r.Run(context.Background(), in)
	runtime.ReadMemStats(&after)
	if err != nil || st.Written != 1 || st.DeadByReason[event.ReasonTooLarge] != 1 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	_, _, dead := readLake(t, store)
	d := dead[0]
	if d.Size != size || !d.Truncated || len(d.Original()) != event.DefaultMaxSize || !strings.HasPrefix(string(d.Original()), head) {
		t.Errorf("dead letter: size %d truncated %v keeping %d bytes; want %d, true, %d", d.Size, d.Truncated, len(d.Original()), size, event.DefaultMaxSize)
	}
	if want := fmt.Sprintf("event is %d bytes", size); !strings.Contains(d.Error, want) {
		t.Errorf("message %q does not say %q", d.Error, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("landing a %d MiB line allocated %d MiB", size>>20, alloc>>20)
	}
}

// storeContent counts what a lake holds: objects and events, outside and
// inside the dead letters.
type storeContent struct{ objects, events, deadObjects, dead int64 }

func content(t *testing.T, s lake.ReadWriteStore) storeContent {
	t.Helper()
	var c storeContent
	ctx := context.Background()
	for e, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		body, err := lake.ReadAll(ctx, s, e.Key)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(bytes.Count(body, []byte("\n")))
		if strings.HasPrefix(e.Key, lake.DeadLetterPrefix) {
			c.deadObjects++
			c.dead += n
		} else {
			c.objects++
			c.events += n
		}
	}
	return c
}

// faults are the ways a destination fails mid-run.
var faults = []struct {
	name  string
	fault laketest.Fault
}{
	{"disk full after 5 objects", laketest.Fault{After: 5, Err: syscall.ENOSPC}},
	{"permission refused on one partition", laketest.Fault{Match: "event_type=payment/", Err: syscall.EACCES}},
	{"name too long on one partition", laketest.Fault{Match: "event_type=auth/", Err: syscall.ENAMETOOLONG}},
	{"a file where a partition folder should be", laketest.Fault{Match: "event_type=account/", After: 1, Err: syscall.ENOTDIR}},
	{"dead letters cannot be written", laketest.Fault{Match: lake.DeadLetterPrefix, Err: syscall.ENOSPC}},
}

// TestCountsAfterPartialFailure: when some objects of a batch are created
// and others fail, the CLI pipeline's counts are those of the objects in
// the lake, and a re-run, healed, finds exactly those already there.
func TestCountsAfterPartialFailure(t *testing.T) {
	x := expect(t, gen.Options{Events: 8000, Seed: 14, Bad: 0.01, Dup: 0.01})
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			mem := memStore(t)
			store := laketest.New(mem, tc.fault)
			w := newWriter(t, store, &lake.WriterOptions{Concurrency: 2})
			r := newRunner(t, w, Config{Source: "f.jsonl", Batch: BatchPolicy{Events: 2000}})
			st, err := r.Run(context.Background(), bytes.NewReader(x.input))
			if err == nil || !errors.Is(err, tc.fault.Err) {
				t.Fatalf("err = %v, want %v", err, tc.fault.Err)
			}
			have := content(t, mem)
			if st.Objects != have.objects+have.deadObjects || st.Written != have.events || st.DeadLetters != have.dead {
				t.Errorf("summary: %d objects, %d written, %d dead letters; the lake holds %d objects, %d events, %d dead letters",
					st.Objects, st.Written, st.DeadLetters, have.objects+have.deadObjects, have.events, have.dead)
			}
			if _, failed := store.Counts(); st.ObjectsFailed != int64(failed) || failed == 0 {
				t.Errorf("%d objects failed, the summary says %d", failed, st.ObjectsFailed)
			}
			if st.In != st.Written+st.AlreadyPresent+st.DeadLetters+st.Duplicates+st.Unwritten || st.Unwritten == 0 {
				t.Errorf("counts do not add up: %+v", st)
			}

			store.Heal()
			w, _ = lake.NewWriter(store, &lake.WriterOptions{Concurrency: 2})
			r, _ = New(w, Config{Source: "f.jsonl", Batch: BatchPolicy{Events: 2000}})
			again, err := r.Run(context.Background(), bytes.NewReader(x.input))
			if err != nil {
				t.Fatal(err)
			}
			if again.AlreadyPresent != st.Written || st.Written+again.Written != int64(len(x.good)) {
				t.Errorf("re-run: %d already present (first run wrote %d), %d written; %d events in all, want %d",
					again.AlreadyPresent, st.Written, again.Written, st.Written+again.Written, len(x.good))
			}
		})
	}
}

// TestLandCountsAfterPartialFailure: the same faults through Land, the
// Lambda's path: the records reported failed are exactly those with an event
// in a failed object, the counts match the lake, and the retry completes
// the batch without writing anything twice.
func TestLandCountsAfterPartialFailure(t *testing.T) {
	x := expect(t, gen.Options{Events: 3000, Seed: 15, Bad: 0.01, Dup: 0.01})
	var recs []Record
	for i, line := range bytes.Split(bytes.TrimSuffix(x.input, []byte("\n")), []byte("\n")) {
		recs = append(recs, Record{Data: line, Source: fmt.Sprintf("shardId-0:%d", i)})
	}
	name := lake.Name{Source: "shardId-0", First: "0", Last: "2999"}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mem := memStore(t)
			store := laketest.New(mem, tc.fault)
			w := newWriter(t, store, &lake.WriterOptions{Concurrency: 2})
			res, err := Land(ctx, w, name, recs, nil)
			if err == nil || !errors.Is(err, tc.fault.Err) || len(res.Failed) == 0 {
				t.Fatalf("err = %v, %d records failed; want %v", err, len(res.Failed), tc.fault.Err)
			}
			st, have := res.Stats, content(t, mem)
			if st.Objects != have.objects+have.deadObjects || st.Written != have.events || st.DeadLetters != have.dead {
				t.Errorf("stats: %d objects, %d written, %d dead letters; the lake holds %d objects, %d events, %d dead letters",
					st.Objects, st.Written, st.DeadLetters, have.objects+have.deadObjects, have.events, have.dead)
			}
			if st.In != st.Written+st.AlreadyPresent+st.DeadLetters+st.Duplicates+st.Unwritten {
				t.Errorf("counts do not add up: %+v", st)
			}
			store.Heal()
			again, err := Land(ctx, w, name, recs, nil)
			if err != nil || again.Stats.AlreadyPresent != st.Written || st.Written+again.Stats.Written != int64(len(x.good)) {
				t.Errorf("retry: err %v, %d already present (first try wrote %d), %d written", err, again.Stats.AlreadyPresent, st.Written, again.Stats.Written)
			}
		})
	}
}

package compact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/pipeline"
	"github.com/eventlake/eventlake/internal/testservers"
)

// stores opens each kind of store a lake can live in.
func stores(t *testing.T) map[string]func(t *testing.T) lake.ReadWriteStore {
	open := func(t *testing.T, url string) lake.ReadWriteStore {
		s, err := lakeurl.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	}
	return map[string]func(t *testing.T) lake.ReadWriteStore{
		"dir": func(t *testing.T) lake.ReadWriteStore { return open(t, t.TempDir()) },
		"mem": func(t *testing.T) lake.ReadWriteStore { return open(t, "mem://") },
		"s3": func(t *testing.T) lake.ReadWriteStore {
			testservers.Credentials(t)
			return open(t, "s3://lake/prefix?endpoint="+testservers.NewS3(t, "lake").URL)
		},
	}
}

// memLake opens an empty lake in memory.
func memLake(t testing.TB) lake.ReadWriteStore {
	t.Helper()
	r, err := lakeurl.Open(context.Background(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// landLines runs lines through the pipeline into r as source src, in
// batches of batch lines.
func landLines(t testing.TB, r lake.ReadWriteStore, f lake.Format, src string, batch int, lines []byte) {
	t.Helper()
	w, err := lake.NewWriter(r, &lake.WriterOptions{Format: f, Compression: lake.Gzip})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(w, pipeline.Config{Source: src, Batch: pipeline.BatchPolicy{Events: batch}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), bytes.NewReader(lines)); err != nil {
		t.Fatal(err)
	}
}

func eventLine(uuid, name string, createdAt int64, payload string) string {
	return fmt.Sprintf(`{"event_uuid":%q,"event_name":%q,"created_at":%d,"p":%q}`+"\n", uuid, name, createdAt, payload)
}

// smallLake lands a few partitions of tiny objects with duplicates across
// objects: a replayed source, and one event_uuid sent twice with different
// created_at (the earlier one, landed later, must win).
func smallLake(t *testing.T, r lake.ReadWriteStore, f lake.Format) {
	t.Helper()
	const day = 1732665600 // 2024-11-27
	var a, replay bytes.Buffer
	for i := range 60 {
		name := []string{"payment:order:completed", "auth:login:ok", "cart:item:added"}[i%3]
		line := eventLine(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), name, day+int64(i*60), fmt.Sprint("n", i))
		a.WriteString(line)
		if i < 25 {
			replay.WriteString(line)
		}
	}
	a.WriteString(eventLine("11111111-0000-4000-8000-000000000000", "auth:login:ok", day+7200, "late copy"))
	landLines(t, r, f, "a", 10, a.Bytes())
	landLines(t, r, f, "replay", 7, replay.Bytes())
	landLines(t, r, f, "z", 10, []byte(eventLine("11111111-0000-4000-8000-000000000000", "auth:login:ok", day+3600, "early copy")))
}

// view reads what a reader sees: every visible event by event_uuid, and
// the number of visible objects.
func view(t *testing.T, r lake.ReadWriteStore) (map[string][]string, int) {
	t.Helper()
	v, n, err := readView(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return v, n
}

// readView is view for goroutines other than the test's (which must not
// call t.Fatal). An object deleted between the snapshot and the read means
// a new snapshot.
func readView(ctx context.Context, r lake.ReadWriteStore) (map[string][]string, int, error) {
	enr := event.NewEnricher(nil)
next:
	for try := 0; try < 50; try++ {
		snap, err := lake.Snapshot(ctx, r, "")
		if err != nil {
			return nil, 0, err
		}
		out := map[string][]string{}
		for _, e := range snap {
			body, err := r.Read(ctx, e.Key)
			if errors.Is(err, lake.ErrNotExist) {
				continue next
			}
			if err != nil {
				return nil, 0, err
			}
			lines, err := lake.Lines(e.Key, body)
			if err != nil {
				return nil, 0, err
			}
			for _, l := range lines {
				info, err := enr.Check(l)
				if err != nil {
					return nil, 0, fmt.Errorf("%s: %w", e.Key, err)
				}
				out[string(info.UUID)] = append(out[string(info.UUID)], string(l))
			}
		}
		return out, len(snap), nil
	}
	return nil, 0, errors.New("no stable snapshot in 50 tries")
}

// keys lists every key in the store.
func keys(t *testing.T, r lake.ReadWriteStore) []string {
	t.Helper()
	var out []string
	for e, err := range r.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Key)
	}
	return out
}

// checkOnce checks the compacted view against the view before: every
// event_uuid once, as one of its copies before, the copy with the earliest
// created_at.
func checkOnce(t *testing.T, before, after map[string][]string) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))) {
		t.Fatalf("event_uuids differ: %d before, %d after", len(before), len(after))
	}
	for u, copies := range after {
		if len(copies) != 1 {
			t.Fatalf("event %s seen %d times after compaction", u, len(copies))
		}
		if !slices.Contains(before[u], copies[0]) {
			t.Fatalf("event %s changed: %s", u, copies[0])
		}
	}
}

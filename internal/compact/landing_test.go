package compact

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// TestCompactWhileLanding: objects keep landing while a compaction runs,
// and the partition takes several rounds (a small round memory). The
// compaction merges each object that was there when it started exactly
// once: it never merges its own outputs again, leaves the objects that
// land meanwhile to the next run, and its summary counts each event once.
func TestCompactWhileLanding(t *testing.T) {
	ctx := context.Background()
	r, err := lakeurl.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	const day, perBatch = 1732665600, 400
	batch := 0
	land := func() {
		var b bytes.Buffer
		for i := range perBatch {
			n := batch*perBatch + i
			b.WriteString(eventLine(fmt.Sprintf("00000000-0000-4000-8000-%012d", n), "payment:order:completed", day+int64(n), strings.Repeat("x", 400)))
		}
		landLines(t, r, lake.JSONL, fmt.Sprintf("s%03d", batch), perBatch, b.Bytes())
		batch++
	}
	for range 12 {
		land()
	}
	var inputBytes int64
	for e, err := range r.List(ctx, "event_type=") {
		if err != nil {
			t.Fatal(err)
		}
		inputBytes += e.Size
	}
	time.Sleep(10 * time.Millisecond) // objects landing from now on are younger than the run
	opts := &Options{Grace: time.Hour, Concurrency: 1, MaxRoundBytes: 200 << 10}
	commits := 0
	opts.step = func(name string) error {
		if strings.HasSuffix(name, " commit") {
			commits++
			land() // a landing run writes while the compaction commits
		}
		return nil
	}
	st, err := Run(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rounds < 3 {
		t.Fatalf("%d rounds: the test needs a partition that takes several", st.Rounds)
	}
	if st.InputObjects != 12 || st.InputBytes != inputBytes || st.Events != 12*perBatch || st.Recompacted != 0 {
		t.Errorf("merged %d objects (%d bytes), kept %d events, %d of them compacted before; want the 12 objects there at the start (%d bytes), %d events, 0",
			st.InputObjects, st.InputBytes, st.Events, st.Recompacted, inputBytes, 12*perBatch)
	}
	if st.Young != commits {
		t.Errorf("%d objects left as younger than the run, want the %d that landed during it", st.Young, commits)
	}
	seen, _ := view(t, r)
	if len(seen) != batch*perBatch {
		t.Errorf("readers see %d events, want %d", len(seen), batch*perBatch)
	}
	for u, copies := range seen {
		if len(copies) != 1 {
			t.Fatalf("%s seen %d times", u, len(copies))
		}
	}

	// The next run merges what landed meanwhile, and the small outputs of
	// the first run with it, and says how many events it merged again.
	st, err = Run(ctx, r, &Options{Grace: time.Hour, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != int64(batch*perBatch) || st.Recompacted != 12*perBatch {
		t.Errorf("second run kept %d events, %d compacted before; want %d, %d", st.Events, st.Recompacted, batch*perBatch, 12*perBatch)
	}
}

// TestCompactRemovesLeftovers: compacting a folder lake removes the
// temporary files crashed writers left in it, and says so.
func TestCompactRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"event_type=a/created_date=2024-11-27", "_dead_letters/reason=invalid_json"} {
		f := filepath.Join(dir, p, ".tmp-3kq9z")
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	r, err := lakeurl.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), r, nil)
	if err != nil || st.Leftovers != (lake.Swept{Files: 2, Bytes: 200}) {
		t.Fatalf("leftovers %+v (%v), want 2 files, 200 bytes", st.Leftovers, err)
	}
	m, err := filepath.Glob(filepath.Join(dir, "*", "*", ".tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 0 {
		t.Errorf("left: %v", m)
	}
}

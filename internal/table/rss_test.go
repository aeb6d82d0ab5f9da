package table

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// BenchmarkSinkPeakRSS measures the peak resident memory of landing
// generated events into a table with pipeline.Runner's default batches, as
// docs/iceberg.md reports (a measurement, so a benchmark: go test never runs
// it, and it never skips). One landing per run, in a process of its own
// (Linux):
//
//	go test -run XXX -bench SinkPeakRSS -benchtime 1x ./internal/table/
//
// EVENTLAKE_RSS_BATCH and EVENTLAKE_RSS_BATCH_BYTES set the batch policy's
// events and bytes (default: the pipeline's);
// EVENTLAKE_RSS_LAKE=1 lands into a folder lake instead, for comparison.
func BenchmarkSinkPeakRSS(b *testing.B) {
	t := b
	n, _ := strconv.Atoi(os.Getenv("EVENTLAKE_RSS_EVENTS"))
	if n <= 0 {
		n = 300_000
	}
	batch, _ := strconv.Atoi(os.Getenv("EVENTLAKE_RSS_BATCH"))
	batchBytes, _ := strconv.Atoi(os.Getenv("EVENTLAKE_RSS_BATCH_BYTES"))
	var sink pipeline.Sink
	if os.Getenv("EVENTLAKE_RSS_LAKE") != "" {
		store, err := lakeurl.Open(context.Background(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		sink, err = lake.NewWriter(store, nil)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		sink, _ = newSink(t, open(t, t.TempDir())) // the second value is its dead-letter store
	}
	r, err := pipeline.New(sink, pipeline.Config{Source: "rss.jsonl", Batch: pipeline.BatchPolicy{Events: batch, Bytes: batchBytes}})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := memStatus(t, "VmHWM")
	// Reset the peak to the current resident set (Linux 4.0+), so that the
	// figure is the landing's, not the test binary's start.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := gen.Write(context.Background(), pw, gen.Options{Events: n, Seed: 42, Bad: 0.01, Dup: 0.01}, nil)
		pw.CloseWithError(err)
	}()
	start := time.Now()
	st, err := r.Run(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events in %d batches (%d written, %d dead letters, %.1f MB in, %.1f MB out) in %v",
		st.In, st.Batches, st.Written, st.DeadLetters, float64(st.BytesIn)/1e6, float64(st.BytesOut)/1e6, time.Since(start).Round(time.Millisecond))
	peak := memStatus(t, "VmHWM")
	t.Logf("peak RSS %d MB (VmHWM; %d MB before the run, peak reset at its start); now %d MB",
		peak>>10, before>>10, memStatus(t, "VmRSS")>>10)
	b.ReportMetric(float64(peak)/1024, "peak-MB")
}

// memStatus reads a kB figure of /proc/self/status.
func memStatus(t testing.TB, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal("peak RSS is read from /proc/self/status (Linux):", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := bytes.Cut(sc.Bytes(), []byte(":")); ok && string(k) == field {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

package table

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// BenchmarkCompactPeakRSS lands generated events (1% delivered twice) in
// 10,000-event commits, then measures one Compact of the whole table: its
// events/s (rows read), the peak resident memory (VmHWM, reset just before),
// files before and after, and the latency of a 1-event commit before and
// after, and after expiring the snapshots. A measurement, run on request, once, in a process of its own:
//
//	EVENTLAKE_COMPACT_EVENTS=1000000 go test -run XXX -bench CompactPeakRSS -benchtime 1x -v ./internal/table/
//
// The Go memory limit is the CLI's (180 MiB) unless GOMEMLIMIT is set;
// EVENTLAKE_COMPACT_CPUPROFILE=FILE profiles the compaction;
// EVENTLAKE_COMPACT_GROUP_BYTES sets CompactOptions.GroupBytes (-1: groups
// of MaxInputs files, as before it existed).
func BenchmarkCompactPeakRSS(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("EVENTLAKE_COMPACT_EVENTS"))
	if n <= 0 {
		n = 200_000
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(180 << 20)
	}
	ctx := context.Background()
	tb := open(b, b.TempDir())
	start := time.Now()
	batches := landStream(b, tb, gen.Options{Events: n, Seed: 61, Dup: 0.01}, 10_000)
	b.Logf("landed %d generated lines in %d commits in %v", n, batches, time.Since(start).Round(time.Millisecond))
	extra := genRows(b, 15, 62)
	before := commitLatency(b, tb, "before", extra[:5])

	runtime.GC()
	debug.FreeOSMemory()
	base := memStatus(b, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatal(err)
	}
	if p := os.Getenv("EVENTLAKE_COMPACT_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	stopWatch := watchHeap(b, os.Getenv("EVENTLAKE_COMPACT_HEAPPROFILE"))
	cpu0 := cpuTime(b)
	start = time.Now()
	groupBytes, _ := strconv.ParseInt(os.Getenv("EVENTLAKE_COMPACT_GROUP_BYTES"), 10, 64)
	res, err := tb.Compact(ctx, CompactOptions{GroupBytes: groupBytes})
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	pprof.StopCPUProfile()
	maxHeap := stopWatch()
	peak := memStatus(b, "VmHWM")
	after := commitLatency(b, tb, "after", extra[5:10])
	time.Sleep(2 * time.Millisecond)
	if _, err := tb.ExpireSnapshots(ctx, ExpireOptions{OlderThan: time.Millisecond, RetainLast: 1}); err != nil {
		b.Fatal(err)
	}
	expired := commitLatency(b, tb, "expired", extra[10:])
	rate := float64(res.EventsIn) / elapsed.Seconds()
	b.Logf("compacted %d partitions in %v: %d files (%.1f MB) -> %d (%.1f MB), %d rows read, %d kept, %d duplicates; %.0f events/s",
		res.Partitions, elapsed.Round(time.Millisecond), res.FilesBefore, float64(res.BytesBefore)/1e6, res.FilesAfter,
		float64(res.BytesAfter)/1e6, res.EventsIn, res.Events, res.Duplicates, rate)
	b.Logf("CPU time %v (user+system, all cores): %.0f events per CPU-second", cpu.Round(time.Millisecond), float64(res.EventsIn)/cpu.Seconds())
	b.Logf("peak RSS %d MB (VmHWM, reset at the start; %d MB resident before); Go heap in use at most %d MB (sampled every 50 ms)", peak>>10, base>>10, maxHeap>>20)
	b.Logf("1-event commit: %v before compaction, %v after, %v after expiring all but the last snapshot (median of 5)", before, after, expired)
	b.ReportMetric(float64(peak)/1024, "peak-MB")
	b.ReportMetric(rate, "events/s")
}

// watchHeap samples the Go heap in use every 50 ms until the returned
// function is called, which returns the largest sample; with a file name,
// it writes a heap profile there at each new largest sample.
func watchHeap(t testing.TB, profile string) func() uint64 {
	var (
		max  uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= max {
				continue
			}
			max = ms.HeapInuse
			if profile != "" {
				if f, err := os.Create(profile); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return max
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// landStream commits generated events in batches of size, without holding
// them all, leaving out the events the rules refuse (dead letters); it
// returns the number of batches.
func landStream(t testing.TB, tb *Table, opts gen.Options, size int) int {
	t.Helper()
	enr := event.NewEnricher(nil)
	var (
		rows  []lake.Row
		line  []byte
		first = 1
		lines int
		n     int
	)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := tb.Commit(context.Background(), Batch{Source: "bench", First: lake.LineNumber(int64(first)), Last: lake.LineNumber(int64(lines)), Rows: rows})
		rows, first = nil, lines+1
		n++
		return err
	}
	err := gen.Each(opts, func(raw []byte, k gen.Kind) error {
		lines++
		var info event.Info
		var err error
		line, info, err = enr.Enrich(line[:0], raw)
		if err != nil {
			return nil // a dead letter for the pipeline (gen makes a few)
		}
		rows = append(rows, lake.RowOf(info, line))
		if len(rows) == size {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// commitLatency times a commit of each row, alone, and returns the median.
func commitLatency(t testing.TB, tb *Table, name string, rows []lake.Row) time.Duration {
	t.Helper()
	var ds []time.Duration
	for _, b := range batches("latency-"+name, rows, 1) {
		start := time.Now()
		commit(t, tb, b)
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

package table

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
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
// files before and after, and the latency of a 1,000-event commit before and
// after. A measurement, run on request, once, in a process of its own:
//
//	EVENTLAKE_COMPACT_EVENTS=1000000 go test -run XXX -bench CompactPeakRSS -benchtime 1x -v ./internal/table/
//
// The Go memory limit is the CLI's (180 MiB) unless GOMEMLIMIT is set;
// EVENTLAKE_COMPACT_CPUPROFILE=FILE profiles the compaction.
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
	extra := genRows(b, 6000, 62)
	before := commitLatency(b, tb, "before", extra[:3000])

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
	cpu0 := cpuTime(b)
	start = time.Now()
	res, err := tb.Compact(ctx, CompactOptions{})
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	pprof.StopCPUProfile()
	peak := memStatus(b, "VmHWM")
	after := commitLatency(b, tb, "after", extra[3000:])
	rate := float64(res.EventsIn) / elapsed.Seconds()
	b.Logf("compacted %d partitions in %v: %d files (%.1f MB) -> %d (%.1f MB), %d rows read, %d kept, %d duplicates; %.0f events/s",
		res.Partitions, elapsed.Round(time.Millisecond), res.FilesBefore, float64(res.BytesBefore)/1e6, res.FilesAfter,
		float64(res.BytesAfter)/1e6, res.EventsIn, res.Events, res.Duplicates, rate)
	b.Logf("CPU time %v (user+system, all cores): %.0f events per CPU-second", cpu.Round(time.Millisecond), float64(res.EventsIn)/cpu.Seconds())
	b.Logf("peak RSS %d MB (VmHWM, reset at the start; %d MB resident before)", peak>>10, base>>10)
	b.Logf("1,000-event commit: %v before compaction, %v after (median of 3)", before, after)
	b.ReportMetric(float64(peak)/1024, "peak-MB")
	b.ReportMetric(rate, "events/s")
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

// commitLatency times three commits of 1,000 rows each and returns the
// median.
func commitLatency(t testing.TB, tb *Table, name string, rows []lake.Row) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i, b := range batches("latency-"+name, rows, 1000) {
		start := time.Now()
		commit(t, tb, b)
		ds = append(ds, time.Since(start))
		if i == 2 {
			break
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

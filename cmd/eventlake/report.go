package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/pipeline"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress redraws line() on stderr every 250 ms when stderr is a terminal.
// The returned function stops it and clears the line; calling it again does
// nothing, so a deferred stop may follow an explicit one. line is called from
// another goroutine: what it reads must be safe for that (atomics, Stats()).
func (e env) progress(quiet bool, line func() string) func() {
	if quiet || !e.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(e.stderr, "\r\033[K%s", line())
			case <-done:
				fmt.Fprint(e.stderr, "\r\033[K")
				return
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func progressLine(s pipeline.Stats) string {
	secs := s.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	return fmt.Sprintf("%s events  %s  %s events/s  written %s  dead letters %s  duplicates %s",
		count(s.In), bytesize(s.BytesIn), count(int64(float64(s.In)/secs)), count(s.Written+s.AlreadyPresent), count(s.DeadLetters), count(s.Duplicates))
}

func printSummary(w io.Writer, s pipeline.Stats) {
	secs := s.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "events in        %12d  (%s in %.2fs: %s events/s, %.0f MB/s)\n", s.In, bytesize(s.BytesIn), secs, count(int64(float64(s.In)/secs)), float64(s.BytesIn)/1e6/secs)
	fmt.Fprintf(w, "written          %12d\n", s.Written)
	if s.AlreadyPresent > 0 {
		fmt.Fprintf(w, "already in lake  %12d  (same input landed before: nothing rewritten)\n", s.AlreadyPresent)
	}
	fmt.Fprintf(w, "dead letters     %12d\n", s.DeadLetters)
	reasons := make([]event.Reason, 0, len(s.DeadByReason))
	for r := range s.DeadByReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return reasons[i] < reasons[j] })
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-20s %8d\n", r, s.DeadByReason[r])
	}
	fmt.Fprintf(w, "duplicates       %12d  (repeated event_uuid, written once)\n", s.Duplicates)
	if s.Unwritten > 0 {
		fmt.Fprintf(w, "NOT WRITTEN      %12d  (the destination failed; run again to add them)\n", s.Unwritten)
	}
	if s.Blank > 0 {
		fmt.Fprintf(w, "blank lines      %12d  (skipped)\n", s.Blank)
	}
	fmt.Fprintf(w, "partitions       %12d\n", s.Partitions)
	fmt.Fprintf(w, "objects          %12d  (%s", s.Objects, bytesize(s.BytesOut))
	if s.ObjectsPresent > 0 {
		fmt.Fprintf(w, "; %d already there", s.ObjectsPresent)
	}
	if s.ObjectsFailed > 0 {
		fmt.Fprintf(w, "; %d FAILED", s.ObjectsFailed)
	}
	fmt.Fprintf(w, ") in %d batches\n", s.Batches)
	if s.Leftovers.Files > 0 {
		fmt.Fprintf(w, "leftovers        %12d  (temporary files of interrupted runs removed, %s)\n", s.Leftovers.Files, bytesize(s.Leftovers.Bytes))
	}
}

func summaryJSON(s pipeline.Stats) map[string]any {
	return map[string]any{
		"events_in": s.In, "written": s.Written, "already_present": s.AlreadyPresent,
		"dead_letters": s.DeadLetters, "dead_letters_by_reason": s.DeadByReason,
		"duplicates": s.Duplicates, "unwritten": s.Unwritten, "blank_lines": s.Blank,
		"partitions": s.Partitions, "objects": s.Objects, "objects_present": s.ObjectsPresent, "objects_failed": s.ObjectsFailed,
		"batches": s.Batches, "bytes_in": s.BytesIn, "bytes_out": s.BytesOut,
		"seconds": s.Elapsed.Seconds(), "interrupted": s.Interrupted,
		"leftovers_removed": s.Leftovers.Files, "leftover_bytes": s.Leftovers.Bytes,
	}
}

func count(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	default:
		return fmt.Sprint(n)
	}
}

func bytesize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/laketest"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// fullSummary is the --json summary of run.
type fullSummary struct {
	summary
	DeadByReason map[string]int64 `json:"dead_letters_by_reason"`
	ObjectsFail  int64            `json:"objects_failed"`
	Present      int64            `json:"objects_present"`
	Leftovers    int              `json:"leftovers_removed"`
	Blank        int64            `json:"blank_lines"`
}

// runBinary runs the built CLI and returns its exit code, stdout and
// stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

func parseSummary(t *testing.T, out string) fullSummary {
	t.Helper()
	var s fullSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	return s
}

// TestPoisonEventDoesNotStopTheRun is issue 10's first probe: a valid event
// whose type escapes to a folder name over 255 bytes, before 100,000 good
// ones. The run exits 0, the poison event is a dead letter, every other
// event lands, and a re-run adds nothing.
func TestPoisonEventDoesNotStopTheRun(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "poison.jsonl")
	poison := fmt.Sprintf(`{"event_uuid":"p1","event_name":"%s:x","created_at":1710633600}`+"\n", strings.Repeat("%", 82))
	if err := os.WriteFile(input, []byte(poison), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(input, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "gen", "-n", "100000", "--to", "-")
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	lakeDir := filepath.Join(dir, "lake")
	for i, want := range []struct{ written, present int64 }{{100000, 0}, {0, 100000}} {
		code, out, stderr := runBinary(t, "run", "--from", input, "--lake", lakeDir, "--batch-events", "10000", "--json")
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
		}
		s := parseSummary(t, out)
		if s.Written != want.written || s.summary.Present != want.present || s.DeadByReason["partition_too_long"] != 1 || s.Unwritten != 0 {
			t.Errorf("run %d: %+v; want %d written, %d present, 1 partition_too_long", i+1, s, want.written, want.present)
		}
	}
}

// tempFiles lists the temporary files under root. Walk errors are skipped
// on purpose: it runs while a run writes, before the folder exists and as
// temporary files are renamed away.
func tempFiles(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestKilledRunLeavesNoTempFiles: a run killed with SIGKILL while writing
// leaves temporary files; the re-run removes them, says so, and lands every
// event once.
func TestKilledRunLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if code, _, stderr := runBinary(t, "gen", "-n", "300000", "--seed", "3", "--to", events); code != 0 {
		t.Fatal(stderr)
	}
	lakeDir := filepath.Join(dir, "lake")
	args := []string{"run", "--from", events, "--lake", lakeDir, "--compression", "none", "--batch-events", "100000", "--json", "--quiet"}
	var left []string
	for try := 0; try < 20 && len(left) == 0; try++ {
		if err := os.RemoveAll(lakeDir); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary(t), args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if len(tempFiles(lakeDir)) >= 3 {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait() // "signal: killed", as intended
		left = tempFiles(lakeDir)
	}
	if len(left) == 0 {
		t.Fatal("no kill caught the run while it wrote")
	}
	code, out, stderr := runBinary(t, args...)
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s", code, stderr)
	}
	s := parseSummary(t, out)
	if still := tempFiles(lakeDir); len(still) > 0 {
		t.Errorf("after the re-run, temporary files remain: %v", still)
	}
	if s.Leftovers < len(left) {
		t.Errorf("the summary says %d leftovers removed; the kill left %d", s.Leftovers, len(left))
	}
	if s.Written+s.summary.Present+s.Dead+s.Duplicates != s.EventsIn || s.Unwritten != 0 {
		t.Errorf("re-run summary does not add up: %+v", s)
	}
	t.Logf("the kill left %d temporary files; the re-run removed %d", len(left), s.Leftovers)
}

// peakRSS runs the CLI under GNU time and returns its peak resident set
// size in bytes. (The rusage of a child started from this process would
// count the test process too: Linux keeps the high-water mark of the
// memory a child shares before exec.)
func peakRSS(t *testing.T, args ...string) int64 {
	t.Helper()
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		if os.Getenv("CI") != "" { // scripts/servers/install puts it there
			t.Fatal("no /usr/bin/time to measure peak RSS with: run scripts/servers/install (apt-get install time)")
		}
		t.Skip("no /usr/bin/time (apt-get install time) to measure peak RSS with")
	}
	cmd := exec.Command(gnuTime, append([]string{"-f", "maxrss-kb=%M", binary(t)}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("eventlake %v: %v\n%s", args, err, errb.String())
	}
	_, kb, ok := strings.Cut(strings.TrimSpace(errb.String()), "maxrss-kb=")
	n, err := strconv.ParseInt(kb, 10, 64)
	if !ok || err != nil {
		t.Fatalf("no peak RSS in %q", errb.String())
	}
	return n << 10
}

// writeLine writes one event of size bytes (its padding member made of
// 'x') without holding it in memory.
func writeLine(t *testing.T, w *bufio.Writer, uuid string, size int) {
	head := fmt.Sprintf(`{"event_uuid":"%s","event_name":"a:b","created_at":1710633600,"pad":"`, uuid)
	w.WriteString(head)
	pad := bytes.Repeat([]byte("x"), 1<<20)
	for n := size - len(head) - 2; n > 0; n -= len(pad) {
		w.Write(pad[:min(n, len(pad))])
	}
	w.WriteString("\"}\n")
}

// TestGiantLinesStayUnderTheMemoryBound: a 100 MB line, and a 5 MB line
// followed by a 50 MB one, land with a peak RSS under 256 MB; the dead
// letters say each line's true size.
func TestGiantLinesStayUnderTheMemoryBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read as Linux reports it")
	}
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("writes 155 MB of input")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		sizes []int
	}{{"one 100 MB line", []int{100e6}}, {"5 MB then 50 MB", []int{5e6, 50e6}}} {
		input := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".jsonl")
		f, err := os.Create(input)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for i, n := range tc.sizes {
			writeLine(t, w, fmt.Sprint("big", i), n)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		lakeDir := filepath.Join(dir, "lake-"+filepath.Base(input))
		rss := peakRSS(t, "run", "--from", input, "--lake", lakeDir, "--quiet")
		t.Logf("%s: peak RSS %d MB", tc.name, rss>>20)
		if rss > 256<<20 {
			t.Errorf("%s: peak RSS %d MB, over the 256 MB bound", tc.name, rss>>20)
		}
		matches := glob(t, filepath.Join(lakeDir, "_dead_letters", "reason=too_large", "*"))
		if len(matches) != 1 {
			t.Fatalf("%s: too_large objects %v", tc.name, matches)
		}
		body := readGz(t, matches[0])
		for _, n := range tc.sizes {
			if want := fmt.Sprintf(`"error":"event is %d bytes`, n); !strings.Contains(string(body[:min(len(body), 1<<22)]), want) {
				t.Errorf("%s: no dead letter says %s", tc.name, want)
			}
		}
	}
}

func readGz(t *testing.T, path string) []byte {
	t.Helper()
	out, err := exec.Command("gzip", "-dc", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBadFlagValuesExitTwo: a flag value no command can use is a usage
// mistake: exit status 2, a message naming the flag, and nothing touched
// (no lake folder made, no input read).
func TestBadFlagValuesExitTwo(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	writeFile(t, events, []byte(`{"event_uuid":"u","event_name":"a:b","created_at":1}`+"\n"))
	lakeDir := filepath.Join(dir, "lake")
	run := []string{"run", "--from", events, "--lake", lakeDir}
	kin := []string{"run", "--from", "kinesis://s", "--lake", lakeDir, "--kinesis-endpoint", "http://127.0.0.1:1"}
	tests := []struct {
		args []string
		flag string
	}{
		{append(run, "--batch-events", "0"), "--batch-events"},
		{append(run, "--batch-bytes", "-5"), "--batch-bytes"},
		{append(run, "--max-event-size", "-1"), "--max-event-size"},
		{append(run, "--compression", "foo"), "--compression"},
		{append(run, "--layout", "foo"), "--layout"},
		{append(run, "--format", "foo"), "--format"},
		{append(run, "--workers", "-1"), "--workers"},
		{append(run, "--batch-period", "-1s"), "--batch-period"},
		{append(run, "--source-id", "a/b"), "--source-id"},
		{append(kin, "--start", "YESTERDAY"), "--start"},
		{append(kin, "--start", "AT_TIMESTAMP"), "--at"},
		{append(kin, "--start", "AT_TIMESTAMP", "--at", "noon"), "--at"},
		{append(kin, "--batch-size", "0"), "--batch-size"},
		{append(kin, "--batch-size", "10001"), "--batch-size"},
		{append(kin, "--max-retries", "-2"), "--max-retries"},
		{append(kin, "--batch-window", "-1s"), "--batch-window"},
		{append(kin, "--compression", "foo"), "--compression"},
		{[]string{"demo", "--lake", lakeDir, "--compression", "foo"}, "--compression"},
		{[]string{"demo", "--lake", lakeDir, "-n", "-1"}, "-n"},
		{[]string{"demo", "--lake", lakeDir, "--bad", "2"}, "--bad"},
		{[]string{"gen", "-n", "-1"}, "-n"},
		{[]string{"gen", "--start", "yesterday"}, "--start"},
		{[]string{"gen", "--dup", "-0.5"}, "--dup"},
		{[]string{"gen", "--rate", "-1"}, "--rate"},
		{[]string{"gen", "--partition-key", "type:0"}, "--partition-key"},
		{[]string{"compact", "--lake", lakeDir, "--older-than", "-1s"}, "--older-than"},
		{[]string{"compact", "--lake", lakeDir, "--grace", "-1s"}, "--grace"},
		{[]string{"compact", "--lake", lakeDir, "--concurrency", "0"}, "--concurrency"},
		{[]string{"compact", "--lake", lakeDir, "--format", "foo"}, "--format"},
		{[]string{"compact", "--lake", lakeDir, "--compression", "foo"}, "--compression"},
		{[]string{"query", "--lake", lakeDir, "--format", "foo", "SELECT 1"}, "--format"},
		{[]string{"cost", "--events-per-hour", "0"}, "--events-per-hour"},
		{[]string{"cost", "--key-spread", "-1"}, "--key-spread"},
		{[]string{"ddl", "--layout", "foo"}, "--layout"},
		{[]string{"ddl", "--format", "foo"}, "--format"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:1], " ")+" "+tc.flag, func(t *testing.T) {
			code, out, stderr := runBinary(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.flag) {
				t.Errorf("eventlake %s: exit %d, stderr %q; want 2 and a message naming %s\n%s", strings.Join(tc.args, " "), code, stderr, tc.flag, out)
			}
			if _, err := os.Stat(lakeDir); err == nil {
				t.Errorf("eventlake %s made the lake folder", strings.Join(tc.args, " "))
				os.RemoveAll(lakeDir)
			}
		})
	}
}

// lakeContent counts the objects and events of a folder lake, apart from
// the dead letters, and its temporary files.
type lakeContent struct{ objects, events, deadObjects, dead, temps int64 }

func readLake(t *testing.T, root string) lakeContent {
	t.Helper()
	var c lakeContent
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			c.temps++
			return nil
		}
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(bytes.Count(body, []byte("\n")))
		if strings.Contains(p, "/_dead_letters/") {
			c.deadObjects++
			c.dead += n
		} else {
			c.objects++
			c.events += n
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDiskFull fills a real 2 MB tmpfs: the run exits 1, its summary counts
// exactly the objects and events on disk, no temporary file is left; once
// the disk has room, a re-run finds those objects there and adds the rest.
// Where no tmpfs can be mounted (not root, no mount(8)) the test says so
// and runs on an injected ENOSPC instead.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Logf("!!! CANNOT MOUNT A TMPFS (%v: %s): the real disk-full test does not run here; falling back to an injected ENOSPC (see internal/pipeline TestCountsAfterPartialFailure)", err, bytes.TrimSpace(out))
		diskFullInjected(t, dir)
		return
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	events := filepath.Join(dir, "events.jsonl")
	if code, _, stderr := runBinary(t, "gen", "-n", "30000", "--seed", "8", "--bad", "0.01", "--to", events); code != 0 {
		t.Fatal(stderr)
	}
	lakeDir := filepath.Join(mnt, "lake")
	args := []string{"run", "--from", events, "--lake", lakeDir, "--compression", "none", "--batch-events", "5000", "--json", "--quiet"}
	code, out, stderr := runBinary(t, args...)
	if code != 1 || !strings.Contains(stderr, "no space left on device") {
		t.Fatalf("on a full disk: exit %d, stderr %q; want 1 and ENOSPC", code, stderr)
	}
	first, have := parseSummary(t, out), readLake(t, lakeDir)
	t.Logf("disk full: summary %d objects, %d written, %d dead letters, %d failed objects; on disk %d+%d objects, %d events, %d dead letters",
		first.Objects, first.Written, first.Dead, first.ObjectsFail, have.objects, have.deadObjects, have.events, have.dead)
	if first.Objects != have.objects+have.deadObjects || first.Written != have.events || first.Dead != have.dead || have.temps != 0 {
		t.Errorf("summary: %d objects, %d written, %d dead letters; on disk: %d objects, %d events, %d dead letters, %d temporary files",
			first.Objects, first.Written, first.Dead, have.objects+have.deadObjects, have.events, have.dead, have.temps)
	}
	if first.ObjectsFail == 0 || first.Written == 0 {
		t.Fatalf("the disk filled before anything or nothing failed: %+v", first)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	code, out, stderr = runBinary(t, args...)
	if code != 0 {
		t.Fatalf("re-run with room: exit %d\n%s", code, stderr)
	}
	again := parseSummary(t, out)
	have = readLake(t, lakeDir)
	if again.summary.Present != first.Written || first.Written+again.Written != have.events || again.Written+again.summary.Present+again.Dead+again.Duplicates != again.EventsIn {
		t.Errorf("re-run: %d present (first run wrote %d), %d written, on disk %d events", again.summary.Present, first.Written, again.Written, have.events)
	}
}

// diskFullInjected is TestDiskFull's fallback: the same run in-process on
// a folder whose creates fail with ENOSPC after a few objects.
func diskFullInjected(t *testing.T, dir string) {
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "30000", "--seed", "8", "--bad", "0.01", "--to", events); err != nil {
		t.Fatal(err)
	}
	store, err := lakeurl.Open(context.Background(), filepath.Join(dir, "lake"), nil)
	if err != nil {
		t.Fatal(err)
	}
	faulty := laketest.New(store, laketest.Fault{After: 30, Err: syscall.ENOSPC})
	w, err := lake.NewWriter(faulty, &lake.WriterOptions{Compression: lake.None})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(w, pipeline.Config{Source: events, Batch: pipeline.BatchPolicy{Events: 5000}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := r.Run(context.Background(), in)
	have := readLake(t, filepath.Join(dir, "lake"))
	if !errors.Is(err, syscall.ENOSPC) || st.Objects != have.objects+have.deadObjects || st.Written != have.events || st.DeadLetters != have.dead {
		t.Errorf("err %v; summary %d objects, %d written, %d dead; on disk %+v", err, st.Objects, st.Written, st.DeadLetters, have)
	}
}

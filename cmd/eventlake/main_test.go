package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/klauspost/compress/gzip"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/testservers"
)

func cli(t *testing.T, stdin io.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	err := run(context.Background(), args, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

func countObjects(t *testing.T, root string) (objects int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			objects++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func unmarshal(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("not the JSON expected: %v\n%s", err, data)
	}
}

// glob is filepath.Glob of a pattern known to be well formed.
func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDemoLandsAndIsIdempotent(t *testing.T) {
	dir := t.TempDir() + "/lake"
	out, _, err := cli(t, nil, "demo", "-n", "20000", "--lake", dir)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"events in", "written", "dead letters", "duplicates", "partitions", "event_type=", `"created_datetime"`, "_dead_letters/reason="} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	n := countObjects(t, dir)
	if n == 0 {
		t.Fatal("demo wrote no objects")
	}
	// Again, naming the lake by its deprecated flag: the same lake.
	out, _, err = cli(t, nil, "demo", "-n", "20000", "--to", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "already in lake") || countObjects(t, dir) != n {
		t.Errorf("second demo changed the lake (%d -> %d objects):\n%s", n, countObjects(t, dir), out)
	}
}

func TestGenIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a", "b"} {
		if _, _, err := cli(t, nil, "gen", "-n", "3000", "--seed", "5", "--bad", "0.1", "--to", filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := readFile(t, filepath.Join(dir, "a")), readFile(t, filepath.Join(dir, "b"))
	if !bytes.Equal(a, b) || bytes.Count(a, []byte("\n")) != 3000 {
		t.Fatalf("gen not deterministic or wrong length (%d lines)", bytes.Count(a, []byte("\n")))
	}
	out, _, err := cli(t, nil, "gen", "-n", "3000", "--seed", "5", "--bad", "0.1")
	if err != nil || out != string(a) {
		t.Fatalf("gen to stdout differs from gen to a file (%v)", err)
	}
}

type summary struct {
	EventsIn    int64 `json:"events_in"`
	Written     int64 `json:"written"`
	Present     int64 `json:"already_present"`
	Dead        int64 `json:"dead_letters"`
	Duplicates  int64 `json:"duplicates"`
	Unwritten   int64 `json:"unwritten"`
	Objects     int64 `json:"objects"`
	Interrupted bool  `json:"interrupted"`
}

func TestRunFromFilesAndStdin(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "5000", "--seed", "2", "--bad", "0.02", "--dup", "0.02", "--to", events); err != nil {
		t.Fatal(err)
	}
	raw := readFile(t, events)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, events+".gz", gz.Bytes())

	var first summary
	for i, args := range [][]string{
		{"run", "--from", events, "--lake", dir + "/plain", "--json"},
		{"run", "--from", events + ".gz", "--to", "file://" + dir + "/gz", "--json", "--compression", "zstd"}, // --to: the deprecated name of --lake
		{"run", "--from", "-", "--lake", dir + "/stdin", "--json", "--layout", "hourly", "--dead-letters", dir + "/dlq"},
	} {
		out, stderr, err := cli(t, bytes.NewReader(raw), args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		var s summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary is not JSON: %v\n%s", err, out)
		}
		if s.EventsIn != 5000 || s.EventsIn != s.Written+s.Present+s.Dead+s.Duplicates+s.Unwritten || s.Dead == 0 || s.Duplicates == 0 {
			t.Errorf("%v: counts %+v", args, s)
		}
		if i == 0 {
			first = s
		} else if s.Written != first.Written || s.Dead != first.Dead || s.Duplicates != first.Duplicates {
			t.Errorf("%v: %+v differs from the plain run %+v", args, s, first)
		}
	}
	if countObjects(t, dir+"/dlq") == 0 {
		t.Error("--dead-letters folder is empty")
	}
	if m := glob(t, dir+"/stdin/event_type=*/created_date=*/created_hour=*/*.jsonl.gz"); len(m) == 0 {
		t.Error("hourly layout not used")
	}
	if m := glob(t, dir+"/stdin/_dead_letters"); len(m) != 0 {
		t.Error("dead letters went to the lake despite --dead-letters")
	}
}

func TestClearErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeFile(t, in, []byte(`{"event_uuid":"u","event_name":"a:b","created_at":1}`+"\n"))
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{}, true, "Commands:"},
		{[]string{"frobnicate"}, true, "unknown command"},
		{[]string{"run", "--lake", dir}, true, "--from and --lake are required"},
		{[]string{"run", "--from", in, "--lake", dir, "extra"}, true, "unexpected argument"},
		{[]string{"run", "--from", in, "--lake", dir, "--bogus"}, true, "flag provided but not defined"},
		{[]string{"run", "--from", in, "--lake", dir, "--layout", "weekly"}, true, `unknown layout "weekly"`},
		{[]string{"run", "--from", in, "--lake", dir, "--compression", "lz4"}, true, `unknown compression "lz4"`},
		{[]string{"run", "--from", in, "--lake", "ftp://x/y"}, false, "unsupported destination scheme"},
		{[]string{"run", "--from", in, "--lake", "s3://b?colour=red"}, false, `unknown parameter "colour"`},
		{[]string{"run", "--from", filepath.Join(dir, "missing.jsonl"), "--lake", dir}, false, "no such file"},
		{[]string{"run", "--from", dir, "--lake", dir + "/l"}, false, "is a folder"},
		{[]string{"run", "--from", in, "--lake", "/proc/forbidden/lake"}, false, "lake folder"},
		{[]string{"run", "--from", in, "--lake", dir, "--batch-events", "0"}, true, "--batch-events 0: want a positive number"},
		{[]string{"gen", "--bad", "2"}, true, "fractions"},
		{[]string{"gen", "--start", "yesterday"}, true, "--start"},
		{[]string{"compact", "--lake", dir, "--target-size", "big"}, true, "want a positive size"},
		{[]string{"compact", "--lake", dir, "--partition", "../etc"}, true, "want a partition folder"},
		{[]string{"query", "--lake", dir, "--partition", "../etc", "SELECT 1"}, true, "want a partition folder"},
		{[]string{"compact", "--lake", dir, "--format", "csv"}, true, `unknown format "csv"`},
		{[]string{"compact", "--lake", dir, "--grace", "-1s"}, true, "must not be negative"},
		{[]string{"compact", "--lake", dir, "now"}, true, "unexpected argument"},
		{[]string{"compact", "--lake", dir + "/typo"}, false, "does not exist"},
		{[]string{"query", "--lake", dir + "/typo", "SELECT 1"}, false, "not a folder"},
	}
	for _, tc := range tests {
		_, stderr, err := cli(t, nil, tc.args...)
		if err == nil {
			t.Errorf("%v succeeded", tc.args)
			continue
		}
		if errors.Is(err, errUsage) != tc.usage {
			t.Errorf("%v: usage error = %v, want %v (%v)", tc.args, errors.Is(err, errUsage), tc.usage, err)
		}
		if msg := err.Error() + stderr; !strings.Contains(msg, tc.want) {
			t.Errorf("%v: message %q lacks %q", tc.args, msg, tc.want)
		}
	}
}

// TestSignalFlushes runs the real binary, sends SIGTERM while it waits for
// more input, and checks that everything read was written before it exited
// with status 130.
func TestSignalFlushes(t *testing.T) {
	dir := t.TempDir()
	bin := binary(t)
	cmd := exec.Command(bin, "run", "--from", "-", "--lake", dir+"/lake", "--json", "--batch-period", "1h")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		fmt.Fprintf(stdin, `{"event_uuid":"u%d","event_name":"a:b","created_at":%d}`+"\n", i, 1700000000+i)
	}
	// The process reads 1000 lines from a pipe in microseconds; a second is
	// ample before asking it to stop.
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit = %v, want status 130", err)
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, out.String())
	}
	if !s.Interrupted || s.Written != 1000 || s.EventsIn != 1000 {
		t.Fatalf("summary %+v, want 1000 written and interrupted", s)
	}
	lines := 0
	for _, m := range glob(t, dir+"/lake/event_type=a/created_date=*/*.jsonl.gz") {
		zr, err := gzip.NewReader(bytes.NewReader(readFile(t, m)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines != 1000 {
		t.Fatalf("lake holds %d events, want 1000", lines)
	}
}

// TestRunToS3 lands events in gofakes3, a real S3 API server, through the
// endpoint override, and re-running adds nothing (conditional creates).
func TestRunToS3(t *testing.T) {
	testservers.Credentials(t)
	s3 := testservers.NewS3(t, "lake")
	backend := s3.Backend
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "4000", "--bad", "0.01", "--dup", "0.01", "--to", events); err != nil {
		t.Fatal(err)
	}
	var runs []summary
	for range 2 {
		out, stderr, err := cli(t, nil, "run", "--from", events, "--lake", "s3://lake/prod/events", "--s3-endpoint", s3.URL, "--json")
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
		var s summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, s)
	}
	if runs[0].Written == 0 || runs[0].Objects == 0 || runs[0].Dead == 0 {
		t.Fatalf("first run: %+v", runs[0])
	}
	if runs[1].Written != 0 || runs[1].Objects != 0 || runs[1].Present != runs[0].Written {
		t.Fatalf("second run added to the lake: %+v", runs[1])
	}
	list, err := backend.ListBucket("lake", &gofakes3.Prefix{Prefix: "prod/events/", HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	if int64(len(keys)) != runs[0].Objects {
		t.Fatalf("bucket holds %d objects, run reported %d", len(keys), runs[0].Objects)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "prod/events/event_type=") && !strings.HasPrefix(k, "prod/events/_dead_letters/reason=") {
			t.Errorf("unexpected key %s", k)
		}
	}
}

func TestQueryTheDemoLake(t *testing.T) {
	dir := t.TempDir() + "/lake"
	o, _, err := cli(t, nil, "demo", "-n", "5000", "--lake", dir, "--quiet", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.NewDecoder(strings.NewReader(o[strings.Index(o, "{"):])).Decode(&s); err != nil || s.Written == 0 {
		t.Fatalf("demo summary: %v %+v", err, s)
	}
	out, _, err := cli(t, nil, "query", "--lake", dir, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT event_uuid) AS u FROM events")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("n,u\n%d,%d\n", s.Written, s.Written)
	if out != want {
		t.Fatalf("query answered %q, want %q", out, want)
	}
	if _, _, err := cli(t, nil, "query", "--lake", dir, "SELEKT"); err == nil {
		t.Error("bad SQL accepted")
	}
}

// TestCompactTheLake lands the same events twice from two files (so twice
// in the lake, in other objects), compacts to S3 and to a folder, and
// checks the summary, the objects left and the query's answer.
func TestCompactTheLake(t *testing.T) {
	testservers.Credentials(t)
	s3 := testservers.NewS3(t, "lake")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "6000", "--seed", "5", "--to", a); err != nil {
		t.Fatal(err)
	}
	writeFile(t, b, readFile(t, a))
	local := filepath.Join(dir, "lake")
	for _, to := range []string{local, "s3://lake/events"} {
		var written int64
		for _, in := range []string{a, b} {
			out, stderr, err := cli(t, nil, "run", "--from", in, "--lake", to, "--s3-endpoint", s3.URL, "--batch-events", "500", "--json")
			if err != nil {
				t.Fatalf("run: %v\n%s", err, stderr)
			}
			var s summary
			unmarshal(t, out, &s)
			written = s.Written
		}
		out, stderr, err := cli(t, nil, "compact", "--lake", to, "--s3-endpoint", s3.URL, "--json")
		if err != nil {
			t.Fatalf("compact: %v\n%s", err, stderr)
		}
		var st struct {
			Partitions, Rounds, InputObjects, OutputObjects, Young int
			Events, Duplicates                                     int64
		}
		unmarshal(t, out, &st)
		if st.Rounds != 0 || st.Young == 0 {
			t.Fatalf("%s: objects just written were compacted despite --older-than 1h: %s", to, out)
		}
		out, stderr, err = cli(t, nil, "compact", "--lake", to, "--s3-endpoint", s3.URL, "--older-than", "0", "--grace", "0", "--json")
		if err != nil {
			t.Fatalf("compact: %v\n%s", err, stderr)
		}
		unmarshal(t, out, &st)
		if st.Events != written || st.Duplicates != written || st.OutputObjects != st.Partitions || st.InputObjects < 4*st.Partitions {
			t.Fatalf("%s: compaction %s; want %d events kept, as many dropped, one object per partition", to, out, written)
		}
		text, _, err := cli(t, nil, "compact", "--lake", to, "--s3-endpoint", s3.URL, "--older-than", "0")
		if err != nil || !strings.Contains(text, "0 rounds") {
			t.Errorf("a second compaction: %v\n%s", err, text)
		}
	}
	out, _, err := cli(t, nil, "query", "--lake", local, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT event_uuid) AS u FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Split(strings.TrimSpace(out), "\n")[1]; strings.Split(n, ",")[0] != strings.Split(n, ",")[1] {
		t.Errorf("query after compaction: %q", out)
	}
	objects := 0
	if err := filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(p, filepath.Join(local, "event_type=")) {
			objects++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var st struct{ Partitions int }
	o, stderr, err := cli(t, nil, "compact", "--lake", local, "--json")
	if err != nil {
		t.Fatalf("compact: %v\n%s", err, stderr)
	}
	unmarshal(t, o, &st)
	if objects != st.Partitions {
		t.Errorf("%d objects left in %d partitions", objects, st.Partitions)
	}
}

// TestQueryAnS3Lake: query mirrors what readers of an S3 lake see into a
// cache folder, fetches only what is new the next time, and follows a
// compaction (superseded copies go, compacted objects come).
func TestQueryAnS3Lake(t *testing.T) {
	testservers.Credentials(t)
	s3 := testservers.NewS3(t, "lake")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "3000", "--seed", "8", "--to", a); err != nil {
		t.Fatal(err)
	}
	lakeURL := "s3://lake/events"
	for _, src := range []string{"a", "b"} { // every event twice, in other objects
		if _, stderr, err := cli(t, nil, "run", "--from", a, "--lake", lakeURL, "--s3-endpoint", s3.URL, "--source-id", src, "--batch-events", "500"); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
	}
	cache := filepath.Join(dir, "cache")
	q := func(extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"query", "--lake", lakeURL, "--s3-endpoint", s3.URL, "--cache", cache, "--format", "csv"}, extra...)
		out, stderr, err := cli(t, nil, append(args, "SELECT count(*) AS n, count(DISTINCT event_uuid) AS u FROM events")...)
		if err != nil {
			t.Fatalf("query: %v\n%s", err, stderr)
		}
		return out, stderr
	}
	out, stderr := q()
	n, u, _ := strings.Cut(strings.Split(strings.TrimSpace(out), "\n")[1], ",")
	if n != fmt.Sprint(2*atoi(t, u)) || !strings.Contains(stderr, "fetched") {
		t.Fatalf("before compaction: %q (%s); want each event twice", out, stderr)
	}
	if _, stderr := q(); !strings.Contains(stderr, " 0 fetched") {
		t.Errorf("a second query fetched again: %s", stderr)
	}
	if _, stderr, err := cli(t, nil, "compact", "--lake", lakeURL, "--s3-endpoint", s3.URL, "--older-than", "0", "--grace", "1h"); err != nil {
		t.Fatalf("compact: %v\n%s", err, stderr)
	}
	out, stderr = q()
	if want := fmt.Sprintf("n,u\n%s,%s\n", u, u); out != want || strings.Contains(stderr, " 0 removed") {
		t.Errorf("after compaction: %q, want %q; %s", out, want, stderr)
	}
	out, _ = q("--partition", "event_type=payment")
	if pn, pu, _ := strings.Cut(strings.Split(strings.TrimSpace(out), "\n")[1], ","); pn != pu || atoi(t, pn) == 0 || atoi(t, pn) >= atoi(t, u) {
		t.Errorf("one type: %q, want some of the %s events, each once", out, u)
	}
	if _, _, err := cli(t, nil, "query", "--lake", lakeURL, "--s3-endpoint", s3.URL, "--cache", cache, "--partition", "../x", "SELECT 1"); err == nil {
		t.Error("a hostile --partition was accepted")
	}
	// A folder that is not a mirror is never cleaned into one.
	mine := filepath.Join(dir, "mine")
	if err := os.MkdirAll(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mine, "thesis.txt"), []byte("precious"))
	if _, _, err := cli(t, nil, "query", "--lake", lakeURL, "--s3-endpoint", s3.URL, "--cache", mine, "SELECT 1"); err == nil || !strings.Contains(err.Error(), "not an eventlake mirror") {
		t.Errorf("a non-empty folder was used as a mirror: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(mine, "thesis.txt")); err != nil || string(b) != "precious" {
		t.Error("a file in a folder given as --cache was touched")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// TestCompactKilled SIGKILLs the real binary again and again while it
// compacts (small rounds and objects: many steps), and checks after each
// kill that a reader sees every event, none more often than it was landed;
// the last run finishes the job: each event once.
func TestCompactKilled(t *testing.T) {
	dir := t.TempDir()
	bin := binary(t)
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := cli(t, nil, "gen", "-n", "4000", "--seed", "9", "--bad", "0", "--dup", "0", "--to", events); err != nil {
		t.Fatal(err)
	}
	// Small events, objects, rounds and output objects: many store-changing
	// steps to kill between, few bytes for the reader to check after each.
	lakeDir := filepath.Join(dir, "lake")
	for _, src := range []string{"a", "b"} {
		if _, stderr, err := cli(t, nil, "run", "--from", events, "--lake", lakeDir, "--source-id", src, "--batch-events", "200"); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
	}
	store, err := lakeurl.Open(context.Background(), lakeDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	view := func() map[string]int {
		t.Helper()
		snap, err := lake.Snapshot(context.Background(), store, "")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range snap {
			body, err := store.Read(context.Background(), e.Key)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := lake.Lines(e.Key, body)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				var ev struct {
					UUID string `json:"event_uuid"`
				}
				if err := json.Unmarshal(l, &ev); err != nil {
					t.Fatalf("%s: %v", e.Key, err)
				}
				seen[ev.UUID]++
			}
		}
		return seen
	}
	before := view()
	if len(before) != 4000 {
		t.Fatalf("%d distinct events landed, want 4000", len(before))
	}
	args := []string{"compact", "--lake", lakeDir, "--older-than", "0", "--grace", "0", "--concurrency", "2",
		"--target-size", "16KiB", "--max-round-bytes", "128KiB", "--json"}
	kills := 0
	for delay := 30 * time.Millisecond; ; delay += 40 * time.Millisecond {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(delay):
			cmd.Process.Kill() // an error means it has just exited: Wait says how
			err = <-done
			kills++
		}
		v := view()
		if len(v) != len(before) {
			t.Fatalf("after kill %d: a reader sees %d distinct events, want %d", kills, len(v), len(before))
		}
		for u, n := range v {
			if n > before[u] {
				t.Fatalf("after kill %d: %s seen %d times, landed %d", kills, u, n, before[u])
			}
		}
		if err == nil {
			break
		}
		if kills > 200 {
			t.Fatal("compaction never finished")
		}
	}
	for u, n := range view() {
		if n != 1 {
			t.Fatalf("%s seen %d times after compaction", u, n)
		}
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil || !strings.Contains(string(out), `"Rounds": 0`) {
		t.Errorf("a run after the end: %v\n%s", err, out)
	}
	t.Logf("killed %d times before a run finished", kills)
}

func TestPartitionKeys(t *testing.T) {
	a := []byte(`{"event_uuid":"u-1","event_name":"payment:order:completed","created_at":1}`)
	b := []byte(`{"event_name":"payment:order:completed","event_uuid":"u-2","created_at":1}`)
	if got := partitionKey(a, 0); got != "u-1" {
		t.Errorf("by uuid: %q", got)
	}
	seen := map[string]bool{}
	for i := range 200 {
		line := []byte(fmt.Sprintf(`{"event_uuid":"u-%d","event_name":"payment:order:completed"}`, i))
		k := partitionKey(line, 4)
		if !strings.HasPrefix(k, "payment#") {
			t.Fatalf("by type: %q", k)
		}
		if partitionKey(line, 4) != k {
			t.Fatal("the key of a copy differs")
		}
		seen[k] = true
	}
	if len(seen) != 4 {
		t.Errorf("4 buckets used as %d keys: %v", len(seen), seen)
	}
	if k := partitionKey(b, 1); k != "payment#0" {
		t.Errorf("one bucket: %q", k)
	}
	// No event_uuid: a hash of the line; no event_name: the uuid.
	if k := partitionKey([]byte(`not json`), 4); len(k) != 32 {
		t.Errorf("bad line: %q", k)
	}
	if k := partitionKey([]byte(`{"event_uuid":"u-3"}`), 4); k != "u-3" {
		t.Errorf("no name: %q", k)
	}
	if _, _, err := cli(t, nil, "gen", "-n", "1", "--partition-key", "type:0", "--to", "kinesis://x"); err == nil || !strings.Contains(err.Error(), "type:N") {
		t.Errorf("bad --partition-key: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eventlake/eventlake/internal/sqs"
	"github.com/eventlake/eventlake/internal/testservers"
)

// openPTY opens a pseudo-terminal pair: what the process writes to the
// slave is read from the master.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// onTerminal runs the real binary (built with -race under -race) with
// stderr on a pseudo-terminal, so the progress line is drawn, and returns
// what the terminal showed. The process must exit 0 and report no race.
func onTerminal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	screen, _ := onTerminalOut(t, env, args...)
	return screen
}

// onTerminalOut is onTerminal, also returning what the process wrote to
// stdout.
func onTerminalOut(t *testing.T, env []string, args ...string) (string, string) {
	t.Helper()
	master, slave := openPTY(t)
	cmd := exec.Command(raceBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	var screen bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(&screen, master) }) // ends with EIO once the slave is closed
	start := time.Now()
	err := cmd.Run()
	t.Logf("%v: %.1fs; stdout: %q", args, time.Since(start).Seconds(), stdout.String())
	slave.Close()
	wg.Wait()
	if err != nil || strings.Contains(screen.String(), "DATA RACE") || strings.Contains(screen.String(), "panic") {
		t.Fatalf("%v: %v\nterminal:\n%s\nstdout:\n%s", args, err, screen.String(), stdout.String())
	}
	return screen.String(), stdout.String()
}

// TestProgressOnATerminal draws the progress line of gen, run, gen --to sqs
// and run --from sqs on a real pseudo-terminal: no panic (a stop called
// twice), no data race between the counters and the line, and the line
// shows real counts.
func TestProgressOnATerminal(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	screen := onTerminal(t, nil, "gen", "-n", "40000", "--seed", "3", "--rate", "40000", "--to", events) // paced: a second, so the line is drawn
	if !strings.Contains(screen, "of 40k lines") {
		t.Errorf("gen drew no progress line:\n%q", screen)
	}
	screen = onTerminal(t, nil, "run", "--from", events, "--lake", filepath.Join(dir, "lake"), "--batch-events", "5000")
	if !strings.Contains(screen, "\r\033[K") {
		t.Errorf("run drew no progress line:\n%q", screen)
	}

	testservers.Credentials(t)
	endpoint := testservers.Fauxqs(t)
	api, err := sqs.NewAPI(context.Background(), sqs.Options{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.CreateQueue(context.Background(), api, "ingest"); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ENDPOINT_URL_SQS=" + endpoint}
	// ASCII payloads only: fauxqs refuses characters outside the BMP, which
	// real SQS accepts; gen counts and says so, which is not under test here.
	screen = onTerminal(t, env, "gen", "-n", "3000", "--seed", "4", "--bad", "0", "--to", "sqs://ingest")
	if i := strings.LastIndex(screen, "sent "); i >= 0 {
		t.Logf("gen said: %q", screen[i:])
	}
	if !strings.Contains(screen, "messages sent") {
		t.Errorf("gen --to sqs drew no progress line:\n%q", screen)
	}
	sent := regexp.MustCompile(`sent (\d+) messages`).FindStringSubmatch(screen)
	if sent == nil {
		t.Fatalf("gen --to sqs did not say how many it sent:\n%q", screen)
	}
	// fauxqs sometimes counts a message as in flight after every message
	// was received and deleted (seen: 2949 sent, received and written, and
	// ApproximateNumberOfMessagesNotVisible 1 until the visibility timeout
	// ran out, 5 minutes). Real SQS does not; a short visibility keeps the
	// drain short, and the counts below prove no message was lost or
	// delivered twice by us.
	screen, out := onTerminalOut(t, env, "run", "--from", "sqs://ingest", "--lake", filepath.Join(dir, "lake-sqs"), "--drain", "--batch-size", "10", "--visibility", "10s")
	if !strings.Contains(screen, "messages received") {
		t.Errorf("run --from sqs drew no progress line:\n%q", screen)
	}
	for _, what := range []string{"messages", "written"} {
		got := regexp.MustCompile(`(?m)^` + what + `\s+(\d+)`).FindStringSubmatch(out)
		if got == nil || got[1] != sent[1] {
			t.Errorf("run --from sqs summary %q: %s should be %s, every sent message once", out, what, sent[1])
		}
	}
}

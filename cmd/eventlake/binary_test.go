package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// raceEnabled is set by race_test.go when the tests run with -race.
var raceEnabled bool

// binDir holds the binaries built for this test process; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type built struct {
	once sync.Once
	path string
	err  error
}

var (
	plainBin built // for tests that kill and time the real process
	raceBin  built // with -race when the tests have it, for tests of concurrency
)

// binary builds the real eventlake binary once per test process.
func binary(t *testing.T) string { return build(t, &plainBin, "eventlake", false) }

// raceBinary is binary built with the race detector when the tests run
// with -race, so a data race in the process fails the test.
func raceBinary(t *testing.T) string { return build(t, &raceBin, "eventlake-race", raceEnabled) }

func build(t *testing.T, b *built, name string, race bool) string {
	t.Helper()
	b.once.Do(func() {
		if binDir == "" {
			if binDir, b.err = os.MkdirTemp("", "eventlake-test-bin-"); b.err != nil {
				return
			}
		}
		b.path = filepath.Join(binDir, name)
		args := []string{"build", "-o", b.path}
		if race {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

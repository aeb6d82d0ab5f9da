package folder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/storetest"
)

// open opens a store at dir, closed when t ends.
func open(t *testing.T, dir string, opts *Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
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

// must fails t on err: for the setup of a test.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	for name, opts := range map[string]*Options{"default": nil, "fsync": {Fsync: true}} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) lake.ReadWriteStore {
				s, err := Open(t.TempDir(), opts)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestLeavesNoTempFilesAndStaysInside(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, nil)
	ctx := context.Background()
	must(t, s.Create(ctx, "p/x", []byte("1")))
	if err := s.Create(ctx, "p/x", []byte("2")); err == nil {
		t.Fatal("second Create of p/x succeeded")
	}
	matches, err := filepath.Glob(filepath.Join(root, "p", tmpPrefix+"*"))
	must(t, err)
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	outside, err := filepath.Glob(filepath.Join(filepath.Dir(root), "*"))
	must(t, err)
	for _, m := range outside {
		if m != root && !strings.HasPrefix(m, root) && filepath.Base(m) == "x" {
			t.Errorf("file outside the root: %s", m)
		}
	}
}

func TestOpenRefusesAnUnwritableFolder(t *testing.T) {
	if s, err := Open("/proc/no/such/lake", nil); err == nil || !strings.Contains(err.Error(), "lake folder") {
		if err == nil {
			s.Close()
		}
		t.Errorf("unwritable folder err = %v, want a clear error", err)
	}
	if _, err := Open("", nil); err == nil {
		t.Error("empty path accepted")
	}
}

// TestCheckMatchesTheFolderStore: for every byte value, the partition rule
// (lake.Layout.Check) accepts an event type exactly when a real folder can
// be made for it.
func TestCheckMatchesTheFolderStore(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir(), nil)
	ts := time.Date(2024, 3, 17, 10, 0, 0, 0, time.UTC)
	for c := 0; c < 256; c++ {
		for _, n := range []int{81, 82, 128} {
			typ := strings.Repeat(string([]byte{byte(c)}), n)
			in := event.Info{Type: []byte(typ), Subtype: []byte("s"), Sec: ts.Unix()}
			key := string(lake.LayoutDaily.AppendPath(nil, in)) + "x.jsonl"
			checkErr := lake.LayoutDaily.Check(in)
			createErr := s.Create(ctx, key, []byte("{}\n"))
			if (checkErr == nil) != (createErr == nil) {
				t.Fatalf("byte %#x x %d: Check says %v, the folder store %v", c, n, checkErr, createErr)
			}
		}
	}
}

// TestSweepRemovesOnlyAbandonedTempFiles: the first write to a folder
// removes the temporary files crashed writers left there, and nothing else:
// not a file a live writer holds, not one modified since the store was
// opened, not a name that is not ours, not a link.
func TestSweepRemovesOnlyAbandonedTempFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "event_type=a")
	must(t, os.MkdirAll(dir, 0o755))
	old := time.Now().Add(-time.Minute)
	plant := func(name string, size int, mtime time.Time) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, make([]byte, size), 0o644))
		must(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	crashed := []string{plant(".tmp-1a2b3c", 1000, old), plant(".tmp-zz9", 24, old)}
	live := plant(".tmp-live1", 10, old)
	f, err := os.Open(live)
	must(t, err)
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		t.Skipf("this file system cannot lock (%v): the lock-based sweep is not testable here", err)
	}
	kept := []string{live, plant(".tmp-NotOurs", 5, old), plant("x.tmp-1", 5, old), plant(".tmp-", 5, old), plant(".tmp-12345678901234", 5, old)}
	must(t, os.Symlink(crashed[0], filepath.Join(dir, ".tmp-link1")))
	kept = append(kept, filepath.Join(dir, ".tmp-link1"))

	s := open(t, root, nil)
	fresh := plant(".tmp-fresh", 5, time.Now().Add(time.Second)) // modified after the store was opened
	kept = append(kept, fresh)
	must(t, s.Create(context.Background(), "event_type=a/obj.jsonl", []byte("{}\n")))
	for _, p := range crashed {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was left", filepath.Base(p))
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	if got := s.Swept(); got != (lake.Swept{Files: 2, Bytes: 1024}) {
		t.Errorf("Swept() = %+v, want 2 files, 1024 bytes", got)
	}
	// Once the live writer is gone (its lock released), a sweep removes it.
	must(t, f.Close())
	if got, err := s.Sweep(context.Background(), ""); err != nil || got.Files != 1 {
		t.Errorf("Sweep after the writer died: %+v, %v; want 1 file", got, err)
	}
}

// TestWritesRefuseSymlinks: a symbolic link planted in a folder lake is
// never written through, whether it leads out of the lake or into another
// partition, and reads cannot leave the lake either.
func TestWritesRefuseSymlinks(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "lake"), filepath.Join(base, "outside")
	must(t, os.MkdirAll(filepath.Join(root, "event_type=b"), 0o755))
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600))
	must(t, os.Symlink(outside, filepath.Join(root, "event_type=out")))
	must(t, os.Symlink("event_type=b", filepath.Join(root, "event_type=a")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "event_type=b", "leak.jsonl")))
	s := open(t, root, nil)
	ctx := context.Background()
	for _, key := range []string{"event_type=out/x.jsonl", "event_type=a/x.jsonl", "event_type=out/d/x.jsonl"} {
		err := s.Create(ctx, key, []byte("{}\n"))
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("Create(%s) = %v, want refused as a symbolic link", key, err)
		}
	}
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 1 {
		t.Errorf("written outside the lake: %v, %v", entries, err)
	}
	if entries, err := os.ReadDir(filepath.Join(root, "event_type=b")); err != nil || len(entries) != 1 {
		t.Errorf("written through the link into another partition: %v, %v", entries, err)
	}
	if _, err := s.Read(ctx, "event_type=b/leak.jsonl"); err == nil {
		t.Error("read through a link out of the lake")
	}
	for e, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		t.Errorf("List yields %s, a link", e.Key)
	}
}

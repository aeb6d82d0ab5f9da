package lake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSweepRemovesOnlyAbandonedTempFiles: the first write to a folder
// removes the temporary files crashed writers left there, and nothing else:
// not a file a live writer holds, not one modified since the store was
// opened, not a name that is not ours, not a link.
func TestSweepRemovesOnlyAbandonedTempFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "event_type=a")
	os.MkdirAll(dir, 0o755)
	old := time.Now().Add(-time.Minute)
	plant := func(name string, size int, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
		return p
	}
	crashed := []string{plant(".tmp-1a2b3c", 1000, old), plant(".tmp-zz9", 24, old)}
	live := plant(".tmp-live1", 10, old)
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		t.Skipf("this file system cannot lock (%v): the lock-based sweep is not testable here", err)
	}
	kept := []string{live, plant(".tmp-NotOurs", 5, old), plant("x.tmp-1", 5, old), plant(".tmp-", 5, old), plant(".tmp-12345678901234", 5, old)}
	os.Symlink(crashed[0], filepath.Join(dir, ".tmp-link1"))
	kept = append(kept, filepath.Join(dir, ".tmp-link1"))

	s, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh := plant(".tmp-fresh", 5, time.Now().Add(time.Second)) // modified after the store was opened
	kept = append(kept, fresh)
	if err := s.Create(context.Background(), "event_type=a/obj.jsonl", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
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
	if got := s.(Sweeper).Swept(); got != (Swept{Files: 2, Bytes: 1024}) {
		t.Errorf("Swept() = %+v, want 2 files, 1024 bytes", got)
	}
	// Once the live writer is gone (its lock released), a sweep removes it.
	f.Close()
	if got, err := s.(Sweeper).Sweep(context.Background(), ""); err != nil || got.Files != 1 {
		t.Errorf("Sweep after the writer died: %+v, %v; want 1 file", got, err)
	}
}

// TestWritesRefuseSymlinks: a symbolic link planted in a folder lake is
// never written through, whether it leads out of the lake or into another
// partition, and reads cannot leave the lake either.
func TestWritesRefuseSymlinks(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "lake"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "event_type=b"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	os.Symlink(outside, filepath.Join(root, "event_type=out"))
	os.Symlink("event_type=b", filepath.Join(root, "event_type=a"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "event_type=b", "leak.jsonl"))
	s, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"event_type=out/x.jsonl", "event_type=a/x.jsonl", "event_type=out/d/x.jsonl"} {
		err := s.Create(ctx, key, []byte("{}\n"))
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("Create(%s) = %v, want refused as a symbolic link", key, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("written outside the lake: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "event_type=b")); len(entries) != 1 {
		t.Errorf("written through the link into another partition: %v", entries)
	}
	if _, err := s.Read(ctx, "event_type=b/leak.jsonl"); err == nil {
		t.Error("read through a link out of the lake")
	}
	for e := range s.List(ctx, "") {
		t.Errorf("List yields %s, a link", e.Key)
	}
}

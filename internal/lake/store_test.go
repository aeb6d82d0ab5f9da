package lake

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/testservers"
)

// s3Server starts gofakes3, a real S3 API server, with one bucket.
func s3Server(t *testing.T, bucket string) string {
	t.Helper()
	testservers.Credentials(t)
	return testservers.NewS3(t, bucket).URL
}

// TestStores runs the same conformance checks on every store.
func TestStores(t *testing.T) {
	ctx := context.Background()
	open := map[string]func(t *testing.T) Reader{
		"dir": func(t *testing.T) Reader {
			s, err := Open(ctx, t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"file-url-fsync": func(t *testing.T) Reader {
			s, err := Open(ctx, "file://"+t.TempDir()+"?fsync=true", nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"mem": func(t *testing.T) Reader {
			s, err := Open(ctx, "mem://", nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3-gofakes3": func(t *testing.T) Reader {
			ep := s3Server(t, "lake")
			s, err := Open(ctx, "s3://lake/some/prefix?endpoint="+ep, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3-env-endpoint": func(t *testing.T) Reader {
			t.Setenv("AWS_ENDPOINT_URL_S3", s3Server(t, "lake2"))
			s, err := Open(ctx, "s3://lake2", nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			storeConformance(t, s)
		})
	}
}

func storeConformance(t *testing.T, s Reader) {
	ctx := context.Background()
	if err := s.Create(ctx, "a/b/one.jsonl", []byte("first\n")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	err := s.Create(ctx, "a/b/one.jsonl", []byte("second\n"))
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second Create err = %v, want ErrExist", err)
	}
	got, err := s.Read(ctx, "a/b/one.jsonl")
	if err != nil || string(got) != "first\n" {
		t.Fatalf("Read = %q, %v; want the first body unchanged", got, err)
	}
	if _, err := s.Read(ctx, "a/b/missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Read missing err = %v, want ErrNotExist", err)
	}
	for _, k := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a/./b", `a\b`, "a/\x00"} {
		if err := s.Create(ctx, k, []byte("x")); err == nil || errors.Is(err, ErrExist) {
			t.Errorf("Create(%q) err = %v, want refusal", k, err)
		}
	}
	for _, k := range []string{"a/c.jsonl", "a/b/two.jsonl", "b/x.jsonl", "event_type=%2E%2E/x"} {
		if err := s.Create(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	list := func(prefix string) []string {
		var keys []string
		for ent, err := range s.List(ctx, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(ent.Key)); ent.Key != "a/b/one.jsonl" && ent.Size != want {
				t.Errorf("List: %s has size %d, want %d", ent.Key, ent.Size, want)
			}
			if ent.ModTime.IsZero() || time.Since(ent.ModTime) > time.Hour {
				t.Errorf("List: %s has modification time %v", ent.Key, ent.ModTime)
			}
			keys = append(keys, ent.Key)
		}
		return keys
	}
	if keys, want := list("a/"), []string{"a/b/one.jsonl", "a/b/two.jsonl", "a/c.jsonl"}; !slices.Equal(keys, want) {
		t.Errorf("List(a/) = %q, want %q", keys, want)
	}

	// Folders right below a prefix, with the store's own lister and by
	// listing everything: the same.
	for _, prefix := range []string{"", "a/"} {
		want := map[string][]string{"": {"a/", "b/", "event_type=%2E%2E/"}, "a/": {"a/b/"}}[prefix]
		got, err := Dirs(ctx, s, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Dirs(%q) = %q, %v; want %q", prefix, got, err, want)
		}
		got, err = Dirs(ctx, struct{ Reader }{s}, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Dirs(%q) by listing = %q, %v; want %q", prefix, got, err, want)
		}
	}

	// Delete removes; deleting again, or a key never written, is fine.
	for range 2 {
		for _, k := range []string{"a/c.jsonl", "a/never"} {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatalf("Delete(%s): %v", k, err)
			}
		}
	}
	if keys, want := list("a/"), []string{"a/b/one.jsonl", "a/b/two.jsonl"}; !slices.Equal(keys, want) {
		t.Errorf("after Delete, List(a/) = %q, want %q", keys, want)
	}
	if _, err := s.Read(ctx, "a/c.jsonl"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Read after Delete: %v, want ErrNotExist", err)
	}
	if err := s.Delete(ctx, "../x"); err == nil {
		t.Error("Delete(../x) was not refused")
	}

	// Many writers race for one key: exactly one wins, the body is whole.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := strings.Repeat(fmt.Sprint(i%10), 100000)
			err := s.Create(ctx, "race/key", []byte(body))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ErrExist):
				t.Errorf("racing Create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d racing creates succeeded, want exactly 1", wins.Load())
	}
	body, err := s.Read(ctx, "race/key")
	if err != nil || len(body) != 100000 || strings.Count(string(body), string(body[:1])) != 100000 {
		t.Errorf("raced object is not one whole body (%d bytes, %v)", len(body), err)
	}
}

func TestDirStoreLeavesNoTempFilesAndStaysInside(t *testing.T) {
	root := t.TempDir()
	s, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Create(ctx, "p/x", []byte("1"))
	s.Create(ctx, "p/x", []byte("2"))
	matches, _ := filepath.Glob(filepath.Join(root, "p", tmpPrefix+"*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	outside, _ := filepath.Glob(filepath.Join(filepath.Dir(root), "*"))
	for _, m := range outside {
		if m != root && !strings.HasPrefix(m, root) && filepath.Base(m) == "x" {
			t.Errorf("file outside the root: %s", m)
		}
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"", "ftp://host/x", "file://host/x", "file:///tmp/x?fsync=maybe", "file:///tmp/x?color=red",
		"s3:///prefix", "s3://b/x?regoin=eu-west-1", "s3://b/../x", "mem://?a=b",
	} {
		if s, err := Open(ctx, u, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
		}
	}
	if _, err := Open(ctx, "/proc/no/such/lake", nil); err == nil || !strings.Contains(err.Error(), "lake folder") {
		t.Errorf("unwritable folder err = %v, want a clear error", err)
	}
}

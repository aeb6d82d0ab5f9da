// Package storetest is the conformance suite every lake store passes: the
// contract of lake.ReadWriteStore (and lake.DirLister through lake.Dirs),
// one subtest per behaviour so a failing driver names what it broke. Each
// driver's tests call Run (as gocloud's blob/drivertest and thanos's
// objstore acceptance tests do).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
)

// Run runs every check on stores made by newStore, a new empty store for
// each subtest; Run closes them.
func Run(t *testing.T, newStore func(t *testing.T) lake.ReadWriteStore) {
	open := func(t *testing.T) lake.ReadWriteStore {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, c := range []struct {
		name string
		test func(t *testing.T, s lake.ReadWriteStore)
	}{
		{"CreateIfAbsent", testCreateIfAbsent},
		{"ErrExistLeavesObjectUnchanged", testErrExistLeavesObjectUnchanged},
		{"ReadMissingIsErrNotExist", testReadMissing},
		{"KeysEscapingRootRefused", testKeysEscapingRootRefused},
		{"EscapedNamesAreKeys", testEscapedNamesAreKeys},
		{"ListOrderAndPrefix", testListOrderAndPrefix},
		{"ListNoTemporaryFiles", testListNoTemporaryFiles},
		{"ListSizesAndModTimes", testListSizesAndModTimes},
		{"Dirs", testDirs},
		{"DeleteIdempotent", testDeleteIdempotent},
		{"ConcurrentCreatesOneWinner", testConcurrentCreates},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open(t)) })
	}
}

// objects are the keys seed creates, each with its own key as body.
var objects = []string{"a/b/one.jsonl", "a/b/two.jsonl", "a/c.jsonl", "b/x.jsonl", "event_type=%2E%2E/x"}

// seed creates objects, in an order other than the keys'.
func seed(t *testing.T, s lake.Store) {
	t.Helper()
	for _, i := range []int{2, 0, 4, 1, 3} {
		if err := s.Create(context.Background(), objects[i], []byte(objects[i])); err != nil {
			t.Fatalf("Create(%s): %v", objects[i], err)
		}
	}
}

// list returns the entries under prefix, failing t on a listing error.
func list(t *testing.T, s lake.Lister, prefix string) []lake.Entry {
	t.Helper()
	var out []lake.Entry
	for e, err := range s.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		out = append(out, e)
	}
	return out
}

func keys(entries []lake.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Key)
	}
	return out
}

func testCreateIfAbsent(t *testing.T, s lake.ReadWriteStore) {
	ctx := context.Background()
	if err := s.Create(ctx, "a/b/one.jsonl", []byte("fir"), []byte("st\n")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := s.Read(ctx, "a/b/one.jsonl")
	if err != nil || string(got) != "first\n" {
		t.Fatalf("Read = %q, %v; want the pieces of the body concatenated", got, err)
	}
}

func testErrExistLeavesObjectUnchanged(t *testing.T, s lake.ReadWriteStore) {
	ctx := context.Background()
	if err := s.Create(ctx, "a/b/one.jsonl", []byte("first\n")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Create(ctx, "a/b/one.jsonl", []byte("second\n")); !errors.Is(err, lake.ErrExist) {
		t.Fatalf("second Create err = %v, want ErrExist", err)
	}
	got, err := s.Read(ctx, "a/b/one.jsonl")
	if err != nil || string(got) != "first\n" {
		t.Fatalf("Read = %q, %v; want the first body unchanged", got, err)
	}
}

func testReadMissing(t *testing.T, s lake.ReadWriteStore) {
	seed(t, s)
	for _, k := range []string{"a/b/missing", "nothing/here"} {
		if _, err := s.Read(context.Background(), k); !errors.Is(err, lake.ErrNotExist) {
			t.Errorf("Read(%s) err = %v, want ErrNotExist", k, err)
		}
	}
}

func testKeysEscapingRootRefused(t *testing.T, s lake.ReadWriteStore) {
	ctx := context.Background()
	for _, k := range []string{"", "/abs", "../up", "a/../../b", "a//b", "a/./b", `a\b`, "a/\x00"} {
		if err := s.Create(ctx, k, []byte("x")); err == nil || errors.Is(err, lake.ErrExist) {
			t.Errorf("Create(%q) err = %v, want refusal", k, err)
		}
	}
	if err := s.Delete(ctx, "../x"); err == nil {
		t.Error("Delete(../x) was not refused")
	}
	if _, err := s.Read(ctx, "../x"); err == nil || errors.Is(err, lake.ErrNotExist) {
		t.Errorf("Read(../x) err = %v, want refusal", err)
	}
	if got := keys(list(t, s, "")); len(got) != 0 {
		t.Errorf("refused creates left objects: %q", got)
	}
}

func testEscapedNamesAreKeys(t *testing.T, s lake.ReadWriteStore) {
	ctx := context.Background()
	const k = "event_type=%2E%2E/x"
	if err := s.Create(ctx, k, []byte(k)); err != nil {
		t.Fatalf("Create(%s): %v", k, err)
	}
	if got, err := s.Read(ctx, k); err != nil || string(got) != k {
		t.Errorf("Read(%s) = %q, %v", k, got, err)
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{k}) {
		t.Errorf("List = %q, want %q", got, k)
	}
}

func testListOrderAndPrefix(t *testing.T, s lake.ReadWriteStore) {
	seed(t, s)
	for prefix, want := range map[string][]string{
		"":      objects,
		"a/":    {"a/b/one.jsonl", "a/b/two.jsonl", "a/c.jsonl"},
		"a/b/":  {"a/b/one.jsonl", "a/b/two.jsonl"},
		"a/b/t": {"a/b/two.jsonl"},
		"c/":    nil,
	} {
		if got := keys(list(t, s, prefix)); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// testListNoTemporaryFiles: while and after writes, only whole objects are
// listed, never a write in progress.
func testListNoTemporaryFiles(t *testing.T, s lake.ReadWriteStore) {
	ctx, cancel := context.WithCancel(context.Background())
	var created atomic.Int32
	done := make(chan struct{})
	defer func() { cancel(); <-done }() // also when a check stops the test
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			k := fmt.Sprintf("p/%04d", i)
			if err := s.Create(context.Background(), k, []byte(strings.Repeat("x", 50000))); err != nil {
				t.Errorf("Create(%s): %v", k, err)
				return
			}
			created.Add(1)
		}
	}()
	check := func() {
		for _, e := range list(t, s, "") {
			if !strings.HasPrefix(e.Key, "p/") || len(e.Key) != len("p/0000") || e.Size != 50000 {
				t.Errorf("List yields %s (%d bytes), not a whole object", e.Key, e.Size)
			}
		}
	}
	for n := 0; n < 20 || created.Load() < 20; n++ {
		select {
		case <-done:
			t.Fatal("the writer stopped")
		default:
		}
		check()
	}
	cancel()
	<-done
	check()
}

func testListSizesAndModTimes(t *testing.T, s lake.ReadWriteStore) {
	seed(t, s)
	for _, e := range list(t, s, "") {
		if want := int64(len(e.Key)); e.Size != want {
			t.Errorf("List: %s has size %d, want %d", e.Key, e.Size, want)
		}
		if e.ModTime.IsZero() || time.Since(e.ModTime) > time.Hour {
			t.Errorf("List: %s has modification time %v", e.Key, e.ModTime)
		}
	}
}

// testDirs: folders right below a prefix, with the store's own lister and
// by listing everything: the same.
func testDirs(t *testing.T, s lake.ReadWriteStore) {
	seed(t, s)
	ctx := context.Background()
	for prefix, want := range map[string][]string{
		"":     {"a/", "b/", "event_type=%2E%2E/"},
		"a/":   {"a/b/"},
		"a/b/": nil,
		"c/":   nil,
	} {
		got, err := lake.Dirs(ctx, s, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Dirs(%q) = %q, %v; want %q", prefix, got, err, want)
		}
		got, err = lake.Dirs(ctx, struct{ lake.Lister }{s}, prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Dirs(%q) by listing = %q, %v; want %q", prefix, got, err, want)
		}
	}
}

// testDeleteIdempotent: Delete removes; deleting again, or a key never
// written, is fine.
func testDeleteIdempotent(t *testing.T, s lake.ReadWriteStore) {
	seed(t, s)
	ctx := context.Background()
	for range 2 {
		for _, k := range []string{"a/c.jsonl", "a/never"} {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatalf("Delete(%s): %v", k, err)
			}
		}
	}
	if got, want := keys(list(t, s, "a/")), []string{"a/b/one.jsonl", "a/b/two.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("after Delete, List(a/) = %q, want %q", got, want)
	}
	if _, err := s.Read(ctx, "a/c.jsonl"); !errors.Is(err, lake.ErrNotExist) {
		t.Errorf("Read after Delete: %v, want ErrNotExist", err)
	}
	if err := s.Create(ctx, "a/c.jsonl", []byte("again")); err != nil {
		t.Errorf("Create after Delete: %v", err)
	}
}

// testConcurrentCreates: many writers race for one key: exactly one wins,
// the body is whole.
func testConcurrentCreates(t *testing.T, s lake.ReadWriteStore) {
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := strings.Repeat(fmt.Sprint(i%10), 100000)
			err := s.Create(ctx, "race/key", []byte(body))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, lake.ErrExist):
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

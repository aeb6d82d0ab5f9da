//go:build !iceberg

package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestTableNeedsTheTag: without -tags iceberg, --iceberg is a usage error that
// says how to get a binary that has it, and nothing is written.
func TestTableNeedsTheTag(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeFile(t, in, []byte(`{"event_uuid":"u","event_name":"a:b","created_at":1}`+"\n"))
	for _, args := range [][]string{
		{"run", "--from", in, "--lake", filepath.Join(dir, "lake"), "--iceberg"},
		{"demo", "-n", "10", "--lake", filepath.Join(dir, "lake"), "--iceberg"},
	} {
		_, _, err := cli(t, nil, args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-tags iceberg") {
			t.Errorf("%v: %v; want a usage error naming -tags iceberg", args, err)
		}
	}
	if m := glob(t, filepath.Join(dir, "lake", "*")); len(m) != 0 {
		t.Errorf("--iceberg without the tag wrote %v", m)
	}
}

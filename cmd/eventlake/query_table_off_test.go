//go:build !iceberg

package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryIcebergNeedsTheTag: without -tags iceberg, query --iceberg is a
// usage error that says how to get a binary that has it, and nothing is
// opened or written; ddl --iceberg, plain text, works in this binary.
func TestQueryIcebergNeedsTheTag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lake")
	for _, args := range [][]string{
		{"query", "--iceberg", "--lake", dir},
		{"query", "--iceberg", "--lake", dir, "--snapshot", "1", "SELECT 1"},
		{"query", "--iceberg", "--lake", dir, "--snapshots"},
	} {
		_, _, err := cli(t, nil, args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-tags iceberg") {
			t.Errorf("%v: %v; want a usage error naming -tags iceberg", args, err)
		}
	}
	if m := glob(t, filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("query --iceberg without the tag wrote %v", m)
	}
	out, _, err := cli(t, nil, "ddl", "--iceberg")
	if err != nil || !strings.Contains(out, "'table_type' = 'ICEBERG'") || !strings.Contains(out, "VACUUM eventlake.events;") {
		t.Errorf("ddl --iceberg without the tag: %v\n%s", err, out)
	}
}

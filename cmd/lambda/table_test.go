//go:build iceberg

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/function"
)

// TestMaintainedTableOpensLazily: the iceberg bootstrap's compaction
// handler refuses a bad EVENTLAKE_TABLE at start, naming it, and opens a
// good one only at the first run (no AWS call at start: a table the
// landing function has not created yet is no error).
func TestMaintainedTableOpensLazily(t *testing.T) {
	if _, _, err := maintainedTable(function.CompactConfig{TableURL: "glue://Bad/events?warehouse=s3://b"}); err == nil || !strings.Contains(err.Error(), function.EnvTable) {
		t.Errorf("a bad URL: %v, want an error naming %s", err, function.EnvTable)
	}
	tb, closeTable, err := maintainedTable(function.CompactConfig{TableURL: "glue://db/events?warehouse=s3://bucket/warehouse"})
	if err != nil || tb == nil {
		t.Fatalf("a good URL: %v", err)
	}
	if err := closeTable(); err != nil {
		t.Errorf("closing a table never opened: %v", err)
	}
}

// TestCommitterNeedsItsTable: the commit handler refuses a missing or bad
// EVENTLAKE_TABLE at start, naming it. (It opens the table with
// MustExist; internal/integration runs it against the Glue stand-in.)
func TestCommitterNeedsItsTable(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"", "glue://Bad/events?warehouse=s3://b", "file:///tmp/w"} {
		if _, _, err := committer(ctx, function.Config{TableURL: url}, nil); err == nil || !strings.Contains(err.Error(), function.EnvTable) {
			t.Errorf("table URL %q: %v, want an error naming %s", url, err, function.EnvTable)
		}
	}
}

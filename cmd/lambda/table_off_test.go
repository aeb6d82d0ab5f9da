//go:build !iceberg

package main

import (
	"context"
	"strings"
	"testing"
)

// TestDefaultBootstrapRefusesTheTable: built without -tags iceberg, both
// jobs refuse EVENTLAKE_TABLE at start, naming the build, instead of
// landing into (or compacting) the lake alone.
func TestDefaultBootstrapRefusesTheTable(t *testing.T) {
	for _, handler := range []string{"land", "compact"} {
		t.Run(handler, func(t *testing.T) {
			t.Setenv("_HANDLER", handler)
			t.Setenv("EVENTLAKE_LAKE_URL", "mem://")
			t.Setenv("EVENTLAKE_TABLE", "glue://db/events?warehouse=s3://bucket/warehouse")
			err := run(context.Background())
			if err == nil || !strings.Contains(err.Error(), "EVENTLAKE_TABLE") || !strings.Contains(err.Error(), "-tags iceberg") {
				t.Fatalf("run: %v, want a refusal naming EVENTLAKE_TABLE and the build", err)
			}
		})
	}
}

// TestDefaultBootstrapRefusesToCommit: the commit handler, built without
// the table, refuses at start, naming the build.
func TestDefaultBootstrapRefusesToCommit(t *testing.T) {
	t.Setenv("_HANDLER", "commit")
	t.Setenv("EVENTLAKE_LAKE_URL", "mem://")
	t.Setenv("EVENTLAKE_TABLE", "glue://db/events?warehouse=s3://bucket/warehouse")
	if err := run(context.Background()); err == nil || !strings.Contains(err.Error(), "-tags iceberg") {
		t.Fatalf("run: %v, want a refusal naming the build", err)
	}
}

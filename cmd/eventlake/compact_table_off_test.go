//go:build !iceberg

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestCompactTableNeedsTheTag: without -tags iceberg, compact --iceberg is a
// usage error naming the tag.
func TestCompactTableNeedsTheTag(t *testing.T) {
	_, _, err := cli(t, nil, "compact", "--iceberg", "--lake", t.TempDir())
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-tags iceberg") {
		t.Fatalf("%v; want a usage error naming -tags iceberg", err)
	}
}

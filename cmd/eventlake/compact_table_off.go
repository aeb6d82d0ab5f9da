//go:build !iceberg

package main

import "context"

// compactTable refuses: this binary was built without -tags iceberg
// (compact_table.go has the real one).
func (e env) compactTable(context.Context, []string) error {
	return badUsage("--iceberg: this eventlake was built without Iceberg support: build it with -tags iceberg, e.g. go run -tags iceberg ./cmd/eventlake compact --iceberg --lake DIR")
}

//go:build !iceberg

package main

import (
	"context"

	"github.com/eventlake/eventlake/internal/query"
)

// queryTable: this binary was built without -tags iceberg, so query
// --iceberg is refused by parseTableRead (exit 2) before this is reached;
// query_table.go has the real one.
func (e env) queryTable(context.Context, string, string, tableRead, *query.Options) (*query.Result, error) {
	return nil, errNoIceberg
}

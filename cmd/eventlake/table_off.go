//go:build !iceberg

package main

import (
	"context"
	"errors"
	"io"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// This binary was built without -tags iceberg: --iceberg is refused by
// lakeFlags.parse (exit 2) before anything below is reached; table.go has
// the real ones.

const icebergBuilt = false

var errNoIceberg = errors.New("built without Iceberg support (-tags iceberg)")

func openTable(context.Context, string, lake.Layout, *lake.Writer) (pipeline.Sink, func() error, error) {
	return nil, nil, errNoIceberg
}

func showTable(context.Context, io.Writer, string) error { return errNoIceberg }

//go:build !iceberg

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// tableSink refuses: this bootstrap was built without the table (the
// iceberg build tag), which costs every cold start ~0.2 s and ~30 MB
// (docs/iceberg.md, "Glue and the Lambda").
func tableSink(context.Context, function.Config, lake.Store) (pipeline.Sink, func() error, error) {
	return nil, nil, fmt.Errorf("%s is set, but this bootstrap was built without the Iceberg table: "+
		"build it with go run ./scripts/buildlambda -tags iceberg", function.EnvTable)
}

// maintainedTable refuses, as tableSink does.
func maintainedTable(function.CompactConfig) (function.Table, func() error, error) {
	return nil, nil, fmt.Errorf("%s is set, but this bootstrap was built without the Iceberg table, which the compaction function "+
		"would maintain: build it with go run ./scripts/buildlambda -tags iceberg", function.EnvTable)
}

// committer refuses, as tableSink does.
func committer(context.Context, function.Config, *slog.Logger) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), func() error, error) {
	return nil, nil, fmt.Errorf("the commit handler commits to the Iceberg table, but this bootstrap was built without it: " +
		"build it with go run ./scripts/buildlambda -tags iceberg")
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/eventlake/eventlake/internal/lake"
)

// ddl prints the Athena table over the lake.
func (e env) ddl(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("ddl", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	location := fs.String("lake", "s3://BUCKET/events", "the lake's S3 location")
	layoutName := fs.String("layout", "daily", "daily, type or hourly")
	formatName := fs.String("format", "jsonl", "jsonl or parquet")
	table := fs.String("table", "events", "table name")
	types := fs.String("event-types", "", "comma-separated event types for enum projection (default: injected)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake ddl [--lake s3://bucket/prefix] [--layout daily] [--format jsonl]\n\nPrints the Athena table over the lake, with partition projection (the table Terraform creates in Glue).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	layout, err := lake.ParseLayout(*layoutName)
	if err != nil {
		return badUsage("--layout: %v", err)
	}
	format, err := lake.ParseFormat(*formatName)
	if err != nil {
		return badUsage("--format: %v", err)
	}
	var eventTypes []string
	if *types != "" {
		eventTypes = strings.Split(*types, ",")
	}
	fmt.Fprint(e.stdout, lake.DDL(*table, *location, layout, format, eventTypes))
	return nil
}

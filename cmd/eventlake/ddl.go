package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/eventlake/eventlake/internal/lake"
)

// icebergTable is the table eventlake's Iceberg output writes, as Athena
// names it in Glue: table.DefaultNamespace and table.DefaultName (a
// tagged test checks they agree; the default binary does not import
// internal/table).
const icebergTable = "eventlake.events"

// ddl prints the Athena table over the lake, or with --iceberg the Athena
// statements for the lake's Iceberg table.
func (e env) ddl(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("ddl", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	location := fs.String("lake", "s3://BUCKET/events", "the lake's S3 location")
	layoutName := fs.String("layout", "daily", "daily, type or hourly")
	formatName := fs.String("format", "jsonl", "jsonl or parquet")
	table := fs.String("table", "events", "table name")
	types := fs.String("event-types", "", "comma-separated event types for enum projection (default: injected)")
	iceberg := fs.Bool("iceberg", false, "print the Athena statements for the Iceberg table instead (run --iceberg): SELECT, time travel, OPTIMIZE, VACUUM, CREATE TABLE; --table defaults to "+icebergTable)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake ddl [--lake s3://bucket/prefix] [--layout daily] [--format jsonl]\n       eventlake ddl --iceberg [--lake s3://bucket/prefix] [--layout daily|hourly] [--table db.name]\n\nPrints the Athena table over the lake, with partition projection (the table Terraform creates in Glue),\nor with --iceberg what Athena runs on the lake's Iceberg table registered in Glue.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *iceberg {
		return e.icebergDDL(fs, *location, *layoutName, *table)
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

// icebergDDL prints the Athena statements for the Iceberg table
// (lake.AthenaIceberg); the flags of the Hive table's DDL that do not
// apply are usage mistakes.
func (e env) icebergDDL(fs *flag.FlagSet, location, layoutName, table string) error {
	var err error
	tableSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "format", "event-types":
			err = badUsage("--iceberg: --%s is for the Hive-style table (the Iceberg table is Parquet, with hidden partitioning)", f.Name)
		case "table":
			tableSet = true
		}
	})
	if err != nil {
		return err
	}
	layout, err := lake.ParseLayout(layoutName)
	if err != nil {
		return badUsage("--layout: %v", err)
	}
	if layout == lake.LayoutType {
		return badUsage("--iceberg: the table is partitioned by day or hour: --layout daily or hourly")
	}
	if !tableSet {
		table = icebergTable
	}
	fmt.Fprint(e.stdout, lake.AthenaIceberg(table, location, layout == lake.LayoutHourly))
	return nil
}

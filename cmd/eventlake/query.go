package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eventlake/eventlake/internal/query"
)

func (e env) query(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("lake", "./lake", "the lake folder")
	format := fs.String("format", "table", "output: table, csv or json")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake query [--lake DIR] [--format table|csv|json] \"SELECT ... FROM events ...\"\n\nRuns SQL with DuckDB over a view \"events\" of the lake (NDJSON and Parquet):\nevent_uuid, event_name, event_type, event_subtype, created_at, created_datetime.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "eventlake query: give the SQL as one argument")
		fs.Usage()
		return errUsage
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: want table, csv or json", *format)
	}
	res, err := query.Run(ctx, *dir, fs.Arg(0))
	if err != nil {
		return err
	}
	str := func(v any) string {
		switch x := v.(type) {
		case nil:
			return ""
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano)
		default:
			return fmt.Sprint(x)
		}
	}
	switch *format {
	case "csv":
		w := csv.NewWriter(e.stdout)
		w.Write(res.Columns)
		for _, row := range res.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = str(v)
			}
			w.Write(rec)
		}
		w.Flush()
		return w.Error()
	case "json":
		out := make([]map[string]any, len(res.Rows))
		for i, row := range res.Rows {
			out[i] = map[string]any{}
			for j, c := range res.Columns {
				out[i][c] = row[j]
			}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	default:
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = str(v)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		fmt.Fprintf(e.stderr, "(%d rows)\n", len(res.Rows))
		return nil
	}
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/query"
)

// mirror brings what readers of the lake at url see into a local folder.
func (e env) mirror(ctx context.Context, url, cache, partition, s3Endpoint string) (string, error) {
	partition, err := lake.PartitionPrefix(partition)
	if err != nil {
		return "", fmt.Errorf("--partition: %w", err)
	}
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no user cache folder (%v): give --cache", err)
		}
		sum := sha256.Sum256([]byte(url + "\x00" + partition))
		cache = filepath.Join(base, "eventlake", "mirror", hex.EncodeToString(sum[:8]))
	}
	store, err := lakeurl.Open(ctx, url, &lakeurl.Options{S3Endpoint: s3Endpoint})
	if err != nil {
		return "", err
	}
	defer store.Close()
	start := time.Now()
	var fetched, fetchedBytes atomic.Int64
	var total atomic.Int64
	stop := e.progress(false, func() string {
		return fmt.Sprintf("mirroring %s%s: %d of %d objects fetched (%s)", store, partition, fetched.Load(), total.Load(), bytesize(fetchedBytes.Load()))
	})
	st, err := query.Mirror(ctx, store, cache, partition, func(n int64, of int) {
		total.Store(int64(of))
		fetched.Add(1)
		fetchedBytes.Add(n)
	})
	stop()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(e.stderr, "mirrored %s%s into %s in %s: %d objects, %d fetched (%s), %d removed\n",
		store, partition, cache, time.Since(start).Round(time.Millisecond), st.Objects, st.Downloaded, bytesize(st.Bytes), st.Removed)
	if st.Objects == 0 {
		return "", fmt.Errorf("%s%s holds no events", store, partition)
	}
	return cache, nil
}

func (e env) query(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("lake", "./lake", "the lake: a folder, or s3://bucket/prefix (mirrored into --cache first)")
	format := fs.String("format", "table", "output: table, csv or json")
	cache := fs.String("cache", "", "where an s3:// lake is mirrored: a new or empty folder, or one mirrored before (default: in the user cache folder)")
	partition := fs.String("partition", "", "mirror only this folder of an s3:// lake, e.g. event_type=payment/")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint URL (else AWS_ENDPOINT_URL_S3)")
	unrestricted := fs.Bool("unrestricted", false, "let the SQL reach any file and setting (COPY ... TO, read_text of any path, ATTACH, SET); default: one SELECT that reads only the lake")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake query [--lake DIR|s3://bucket/prefix] [--format table|csv|json] \"SELECT ... FROM events ...\"\n\nRuns SQL with DuckDB over a view \"events\" of the lake (NDJSON and Parquet):\nevent_uuid, event_name, event_type, event_subtype, created_at, created_datetime,\nand the partition columns; each event once, whatever compaction is doing.\nAn s3:// lake is first mirrored (what readers see; only new objects are fetched).\nThe SQL is one SELECT that can read only the lake, unless --unrestricted.\n\n")
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
		return badUsage("--format %q: want table, csv or json", *format)
	}
	if _, err := lake.PartitionPrefix(*partition); err != nil {
		return badUsage("--partition: %v", err)
	}
	if local, ok := localLake(*dir); ok {
		*dir = local
	} else {
		local, err := e.mirror(ctx, *dir, *cache, *partition, *s3Endpoint)
		if err != nil {
			return err
		}
		*dir = local
	}
	res, err := query.Run(ctx, *dir, fs.Arg(0), &query.Options{Unrestricted: *unrestricted})
	if err != nil {
		return err
	}
	return e.printResult(res, *format)
}

// printResult prints res on stdout as a table (and the row count on
// stderr), CSV or JSON.
func (e env) printResult(res *query.Result, format string) error {
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
	switch format {
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

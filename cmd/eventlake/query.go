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

// defaultQuery is what query runs when no SQL is given.
const defaultQuery = "SELECT count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids FROM events"

// tableRead is the snapshot query --iceberg reads: the current one, the one
// of an id (--snapshot), or the one current at a time (--as-of); or, with
// list (--snapshots), the list of snapshots instead of a query.
type tableRead struct {
	snapshot    int64
	hasSnapshot bool
	asOf        time.Time // zero: not given
	list        bool
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
	iceberg := fs.Bool("iceberg", false, "read the Iceberg table eventlake.events kept in the lake folder (run --iceberg) instead of its Hive-style objects (needs a build with -tags iceberg)")
	snapshot := fs.Int64("snapshot", 0, "with --iceberg: read this snapshot (time travel by id)")
	asOf := fs.String("as-of", "", "with --iceberg: read the snapshot that was current at this RFC 3339 time, e.g. 2026-11-29T01:30:00Z")
	list := fs.Bool("snapshots", false, "with --iceberg: list the table's snapshots (id, time, operation, batch, rows, data files) instead of running SQL")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake query [--lake DIR|s3://bucket/prefix] [--format table|csv|json] [\"SELECT ... FROM events ...\"]\n"+
			"       eventlake query --iceberg [--snapshot ID | --as-of TIME] [--lake DIR] [SQL]\n"+
			"       eventlake query --iceberg --snapshots [--lake DIR]\n\n"+
			"Runs SQL with DuckDB over a view \"events\" of the lake (NDJSON and Parquet):\nevent_uuid, event_name, event_type, event_subtype, created_at, created_datetime,\nand the partition columns; each event once, whatever compaction is doing.\nAn s3:// lake is first mirrored (what readers see; only new objects are fetched).\n"+
			"With --iceberg, \"events\" is the data files of a snapshot of the lake folder's\nIceberg table, with the same columns (created_date and created_hour from\ncreated_datetime, UTC) and event, the whole JSON.\n"+
			"The SQL is one SELECT that can read only the lake, unless --unrestricted.\nWithout SQL: %s.\n\n", defaultQuery)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	q := defaultQuery
	switch fs.NArg() {
	case 0:
	case 1:
		q = fs.Arg(0)
	default:
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
	opts := &query.Options{Unrestricted: *unrestricted}
	r := tableRead{snapshot: *snapshot, list: *list}
	fs.Visit(func(f *flag.Flag) { r.hasSnapshot = r.hasSnapshot || f.Name == "snapshot" })
	if *iceberg || r.hasSnapshot || *asOf != "" || r.list {
		mirror := *cache != "" || *partition != "" || *s3Endpoint != ""
		if err := parseTableRead(&r, *iceberg, *asOf, *dir, mirror, fs.NArg() > 0); err != nil {
			return err
		}
		local, _ := localLake(*dir)
		res, err := e.queryTable(ctx, local, q, r, opts)
		if err != nil {
			return err
		}
		return e.printResult(res, *format)
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
	res, err := query.Run(ctx, *dir, q, opts)
	if err != nil {
		return err
	}
	return e.printResult(res, *format)
}

// parseTableRead checks the flags of query --iceberg into r, before
// anything is opened: a value no query can use is a usage mistake. mirror
// says whether a flag of the S3 mirror was given, sql whether SQL was.
func parseTableRead(r *tableRead, iceberg bool, asOf, dir string, mirror, sql bool) error {
	switch {
	case !iceberg:
		return badUsage("--snapshot, --as-of and --snapshots read the Iceberg table: add --iceberg")
	case !icebergBuilt:
		return badUsage("--iceberg: this eventlake was built without Iceberg support (it costs every command ~0.2 s and ~50 MB at start): build it with -tags iceberg, e.g. go run -tags iceberg ./cmd/eventlake")
	case r.hasSnapshot && asOf != "":
		return badUsage("--snapshot and --as-of both select a snapshot: give one")
	case r.list && (r.hasSnapshot || asOf != "" || sql):
		return badUsage("--snapshots lists the snapshots: no SQL, --snapshot or --as-of with it")
	case mirror:
		return badUsage("--cache, --partition and --s3-endpoint mirror an s3:// lake; --iceberg reads a folder's table")
	}
	if _, local := localLake(dir); !local {
		return badUsage("--iceberg: the lake must be a folder for now (an S3 table needs a Glue or REST catalog, not built yet): %s", dir)
	}
	if asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, asOf)
		if err != nil {
			return badUsage("--as-of %q: want an RFC 3339 time, e.g. 2026-11-29T01:30:00Z", asOf)
		}
		r.asOf = t
	}
	return nil
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

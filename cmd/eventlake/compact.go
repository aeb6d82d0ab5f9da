package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eventlake/eventlake/internal/compact"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// byteSize is a flag holding a size: 134217728, 128MiB, 64KB, 1GiB.
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return fmt.Errorf("%q: want a positive size such as 128MiB, 64KiB or 1000000", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// compactConfig is what the compact command was asked to do.
type compactConfig struct {
	lakeURL, s3Endpoint string
	json                bool
	opts                compact.Options
}

func (e env) compact(ctx context.Context, args []string) error {
	if icebergFlag(args) {
		return e.compactTable(ctx, args) // compact_table.go (-tags iceberg)
	}
	cfg, err := e.compactFlags(args)
	if err != nil {
		return err
	}
	store, err := cfg.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	st, runErr := e.compactRun(ctx, store, cfg)
	if err := e.compactReport(cfg, store, st, time.Since(start), runErr); err != nil {
		return err
	}
	if runErr != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted; readers see a consistent lake, run again to finish: %w", ctx.Err())
	}
	return runErr
}

// icebergFlag says whether args ask for the Iceberg table (--iceberg),
// whose compaction has flags of its own.
func icebergFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		switch strings.TrimLeft(a, "-") {
		case "iceberg", "iceberg=true", "iceberg=1":
			return strings.HasPrefix(a, "-")
		}
	}
	return false
}

// compactFlags parses and checks compact's flags; a usage mistake is
// errUsage or a badUsage error, found before anything is opened.
func (e env) compactFlags(args []string) (*compactConfig, error) {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	lakeURL := fs.String("lake", "./lake", "the lake: a folder, file:///path or s3://bucket/prefix[?region=&endpoint=]")
	partition := fs.String("partition", "", "only the partitions under this folder, e.g. event_type=payment/ or event_type=payment/created_date=2026-11-27/")
	olderThan := fs.Duration("older-than", time.Hour, "leave alone objects written less than this long ago (0 for all)")
	target := byteSize(128 << 20)
	fs.Var(&target, "target-size", "size of the objects written")
	maxRound := byteSize(512 << 20)
	fs.Var(&maxRound, "max-round-bytes", "uncompressed bytes of events held in memory at once, all partitions together; bigger partitions take several rounds")
	format := fs.String("format", "auto", "format written: auto (that of the inputs), jsonl or parquet")
	compression := fs.String("compression", "auto", "compression of NDJSON written: auto (that of the inputs), gzip, zstd or none")
	grace := fs.Duration("grace", 10*time.Minute, "keep superseded objects this long for readers that listed them; a later run deletes them (0: delete now)")
	concurrency := fs.Int("concurrency", 4, "partitions compacted at once")
	s3Endpoint := fs.String("s3-endpoint", "", "S3-compatible endpoint URL (else AWS_ENDPOINT_URL_S3)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, `usage: eventlake compact [--lake URL] [--partition event_type=X/...] [--older-than 1h] [--target-size 128MiB] [--grace 10m]

Merges the small objects of each partition into few large ones and keeps one
copy of each event_uuid (the earliest created_at, then the earliest source
position). Readers switch to the new objects at once, when a manifest is
created; old objects are deleted after --grace. Safe to interrupt, to run
again, and to run twice at once (see docs/compaction.md).

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "eventlake compact: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errUsage
	}
	if *olderThan < 0 || *grace < 0 {
		return nil, badUsage("--older-than %s, --grace %s: must not be negative", *olderThan, *grace)
	}
	if *concurrency <= 0 {
		return nil, badUsage("--concurrency %d: must be positive", *concurrency)
	}
	if _, err := lake.PartitionPrefix(*partition); err != nil {
		return nil, badUsage("--partition: %v", err)
	}
	cfg := &compactConfig{lakeURL: *lakeURL, s3Endpoint: *s3Endpoint, json: *jsonOut, opts: compact.Options{
		Prefix: *partition, OlderThan: *olderThan, TargetSize: int64(target), MaxRoundBytes: int64(maxRound),
		Grace: *grace, Concurrency: *concurrency,
	}}
	if *format != "auto" {
		f, err := lake.ParseFormat(*format)
		if err != nil {
			return nil, badUsage("--format: %v", err)
		}
		cfg.opts.Format = &f
	}
	if *compression != "auto" {
		c, err := lake.ParseCompression(*compression)
		if err != nil {
			return nil, badUsage("--compression: %v", err)
		}
		cfg.opts.Compression = &c
	}
	return cfg, nil
}

// open checks that a folder lake exists, sets the Go memory limit from
// --max-round-bytes (unless GOMEMLIMIT is set) and opens the lake.
func (cfg *compactConfig) open(ctx context.Context) (lake.ReadWriteStore, error) {
	if local, ok := localLake(cfg.lakeURL); ok {
		if st, err := os.Stat(local); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("lake folder %s does not exist", local)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The events in memory, their encoded copies, and room for the rest.
		debug.SetMemoryLimit(2*cfg.opts.MaxRoundBytes + 128<<20)
	}
	return lakeurl.Open(ctx, cfg.lakeURL, &lakeurl.Options{S3Endpoint: cfg.s3Endpoint})
}

// compactRun compacts the lake, drawing a progress line on a terminal.
func (e env) compactRun(ctx context.Context, store lake.ReadWriteStore, cfg *compactConfig) (compact.Stats, error) {
	start := time.Now()
	var done, rounds atomic.Int64
	opts := cfg.opts
	opts.Progress = func(p compact.Partition) {
		done.Add(1)
		rounds.Add(int64(p.Rounds))
	}
	stop := e.progress(cfg.json, func() string {
		return fmt.Sprintf("compacting %s: %d partitions done, %d rounds committed, %s", store, done.Load(), rounds.Load(), time.Since(start).Round(time.Second))
	})
	defer stop()
	return compact.Run(ctx, store, &opts)
}

// compactReport prints the summary of a run, finished or not (runErr).
func (e env) compactReport(cfg *compactConfig, store lake.ReadWriteStore, st compact.Stats, elapsed time.Duration, runErr error) error {
	if cfg.json {
		out := struct {
			compact.Stats
			Seconds float64
			Error   string `json:",omitempty"`
		}{Stats: st, Seconds: elapsed.Seconds()}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := e.stdout
	fmt.Fprintf(w, "Compacted %s in %s: %d partitions, %d rounds.\n", store, elapsed.Round(time.Millisecond), st.Partitions, st.Rounds)
	fmt.Fprintf(w, "  merged   %d objects (%s) into %d (%s)\n", st.InputObjects, bytesize(st.InputBytes), st.OutputObjects, bytesize(st.OutputBytes))
	fmt.Fprintf(w, "  events   %d kept (%d of them merged again from earlier compacted objects), %d duplicate event_uuids dropped\n", st.Events, st.Recompacted, st.Duplicates)
	fmt.Fprintf(w, "  deleted  %d superseded objects, old manifests and abandoned outputs\n", st.Deleted)
	if st.Pending > 0 {
		fmt.Fprintf(w, "  kept     %d superseded objects (hidden from readers) for the %s grace period; a later run deletes them\n", st.Pending, cfg.opts.Grace)
	}
	if st.Leftovers.Files > 0 {
		fmt.Fprintf(w, "  removed  %d temporary files of interrupted runs (%s)\n", st.Leftovers.Files, bytesize(st.Leftovers.Bytes))
	}
	if st.Young > 0 {
		fmt.Fprintf(w, "  skipped  %d objects younger than --older-than %s (use --older-than 0 to include them)\n", st.Young, cfg.opts.OlderThan)
	}
	if st.Conflicts > 0 {
		fmt.Fprintf(w, "  retried  %d commits lost to another compaction running at the same time\n", st.Conflicts)
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// lakeFlags are the flags that say where and how events land, shared by run
// and demo.
type lakeFlags struct {
	lake, deadLetters, layout, compression, s3Endpoint string
	format                                             string
	maxEventSize, batchEvents, batchBytes, workers     int
	batchPeriod                                        time.Duration
	sourceID                                           string
	quiet, jsonSummary                                 bool
	// table: land into the Iceberg table (see table.go); batchBytesSet
	// says whether --batch-bytes was given (the table's default differs).
	table, batchBytesSet bool
}

func (f *lakeFlags) register(fs *flag.FlagSet, defaultLake string) {
	lakeFlag(fs, &f.lake, defaultLake, "the lake: a folder, file:///path or s3://bucket/prefix[?region=&endpoint=]")
	fs.StringVar(&f.deadLetters, "dead-letters", "", "where bad events go (default: <lake>/_dead_letters/)")
	fs.StringVar(&f.layout, "layout", "daily", "partitions: daily (event_type=/created_date=), type (event_type=) or hourly")
	fs.StringVar(&f.compression, "compression", "gzip", "object compression: gzip, zstd or none (NDJSON objects)")
	fs.StringVar(&f.format, "format", "jsonl", "object format: jsonl (NDJSON) or parquet (Snappy pages; compaction writes zstd; dead letters stay NDJSON)")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (else AWS_ENDPOINT_URL_S3)")
	fs.IntVar(&f.maxEventSize, "max-event-size", event.DefaultMaxSize, "largest event in bytes; larger ones are dead letters (too_large)")
	fs.IntVar(&f.batchEvents, "batch-events", pipeline.DefaultBatchEvents, "cut a batch after this many lines")
	fs.IntVar(&f.batchBytes, "batch-bytes", pipeline.DefaultBatchBytes, "cut a batch once it holds this many input bytes")
	fs.DurationVar(&f.batchPeriod, "batch-period", 0, "cut a batch this long after its first line (default 10s for stdin, never for files, whose batches must not depend on timing)")
	fs.IntVar(&f.workers, "workers", 0, "goroutines enriching events (default: one per core)")
	fs.StringVar(&f.sourceID, "source-id", "", "object-name stem (default: the input's base name)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line")
	fs.BoolVar(&f.jsonSummary, "json", false, "print the summary as JSON")
	fs.BoolVar(&f.table, "iceberg", false, "land into the Apache Iceberg table eventlake.events kept in the lake folder (SQLite catalog <lake>/catalog.db), instead of Hive-style objects; dead letters stay NDJSON in <lake>/_dead_letters/ (needs a build with -tags iceberg)")
}

// setFlags records which flags were given, once fs is parsed.
func (f *lakeFlags) setFlags(fs *flag.FlagSet) {
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "batch-bytes" {
			f.batchBytesSet = true
		}
	})
}

// describe says how events land, for the demo's first line.
func (f *lakeFlags) describe() string {
	if f.table {
		return "Iceberg table eventlake.events, " + f.layout + " partitions"
	}
	return f.compression + ", " + f.layout + " layout"
}

// parsed is what the lake flags name.
type parsed struct {
	layout lake.Layout
	comp   lake.Compression
	format lake.Format
}

// parse checks the flag values, before anything is opened or read: a value
// no run can use is a usage mistake.
func (f *lakeFlags) parse() (parsed, error) {
	var p parsed
	var err error
	if p.layout, err = lake.ParseLayout(f.layout); err != nil {
		return p, badUsage("--layout: %v", err)
	}
	if p.comp, err = lake.ParseCompression(f.compression); err != nil {
		return p, badUsage("--compression: %v", err)
	}
	if p.format, err = lake.ParseFormat(f.format); err != nil {
		return p, badUsage("--format: %v", err)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"--max-event-size", f.maxEventSize}, {"--batch-events", f.batchEvents}, {"--batch-bytes", f.batchBytes}} {
		if n.v <= 0 {
			return p, badUsage("%s %d: want a positive number", n.name, n.v)
		}
	}
	if f.batchPeriod < 0 || f.workers < 0 {
		return p, badUsage("--batch-period %s, --workers %d: want neither negative", f.batchPeriod, f.workers)
	}
	if f.sourceID != "" && lake.SourceStem(f.sourceID) != f.sourceID {
		return p, badUsage("--source-id %q: only letters, digits, '_' and '-', at most 64", f.sourceID)
	}
	if f.table && !icebergBuilt {
		return p, badUsage("--iceberg: this eventlake was built without Iceberg support (it costs every command ~0.2 s and ~50 MB at start): build it with -tags iceberg, e.g. go run -tags iceberg ./cmd/eventlake")
	}
	if f.table {
		if _, local := localLake(f.lake); !local && f.lake != "" {
			return p, badUsage("--iceberg: the lake must be a folder for now (an S3 lake needs a Glue or REST catalog, not built yet): %s", f.lake)
		}
		if p.format == lake.Parquet {
			return p, badUsage("--iceberg writes Parquet data files itself: drop --format")
		}
	}
	return p, nil
}

// open builds the sink the flags describe: a lake writer, or with --iceberg
// the Iceberg table (its dead letters written by a lake writer).
func (f *lakeFlags) open(ctx context.Context) (pipeline.Sink, func(), error) {
	p, err := f.parse()
	if err != nil {
		return nil, nil, err
	}
	opts := &lakeurl.Options{S3Endpoint: f.s3Endpoint}
	store, err := lakeurl.Open(ctx, f.lake, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("--lake: %w", err)
	}
	closers := []func() error{store.Close}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var dead lake.Store
	if f.deadLetters != "" {
		d, err := lakeurl.Open(ctx, f.deadLetters, opts)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--dead-letters: %w", err)
		}
		dead = d
		closers = append(closers, d.Close)
	}
	w, err := lake.NewWriter(store, &lake.WriterOptions{Compression: p.comp, DeadLetters: dead, Format: p.format})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	if !f.table {
		return w, closeAll, nil
	}
	sink, closeTable, err := openTable(ctx, f.lake, p.layout, w)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, closeTable)
	return sink, closeAll, nil
}

// batchBytes is the batch size in input bytes: --batch-bytes, or the
// default of the output (the table's batches are smaller).
func (f *lakeFlags) batchSize() int {
	switch {
	case f.batchBytesSet:
		return f.batchBytes
	case f.table:
		return tableBatchBytes
	case f.format == "parquet":
		return parquetBatchBytes
	}
	return f.batchBytes
}

// The table's batches and memory floor (see table.go, built with -tags
// iceberg, whose test checks tableBatchBytes = table.BatchBytes).
const (
	// tableBatchBytes is the default batch size with --iceberg: Parquet
	// encoding through arrow allocates about ten times a batch's bytes.
	tableBatchBytes = 8 << 20
	// tableMemoryLimit is the Go memory limit with --iceberg: the live heap
	// after a collection is about 100 MB; 180 MiB kept the peak RSS of
	// 300,000 events at ~230 MB (docs/iceberg.md).
	tableMemoryLimit = 180 << 20
)

// minMemoryLimit is the least Go memory limit a run sets. Small batches
// (Parquet's) would otherwise set a limit below the live heap of encoding,
// and the collector would run without end: 1M events as Parquet took 14.0 s
// with the limit at 96 MiB, 7.6 s at 160 MiB (peak RSS 154 -> 194 MB).
const minMemoryLimit = 160 << 20

// parquetBatchBytes is the default batch size of Parquet objects: encoding
// one holds its column buffers beside the batch's blocks. Landing 1M
// generated events peaked at 290 MB of resident memory with 64 MiB batches,
// 241-257 MB with 32 MiB and 213 MB with 16 MiB (NDJSON, 64 MiB: 217-248).
const parquetBatchBytes = 16 << 20

func (f *lakeFlags) config(source string, period time.Duration) pipeline.Config {
	layout, _ := lake.ParseLayout(f.layout)
	if f.batchPeriod > 0 {
		period = f.batchPeriod
	}
	return pipeline.Config{
		Source:   source,
		SourceID: f.sourceID,
		Layout:   layout,
		Event:    event.Options{MaxSize: f.maxEventSize},
		Batch:    pipeline.BatchPolicy{Events: f.batchEvents, Bytes: f.batchSize(), Period: period},
		Workers:  f.workers,
	}
}

func (e env) run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var from string
	var lf lakeFlags
	var sf streamFlags
	fs.StringVar(&from, "from", "", "input: an NDJSON file (.gz and .zst are read too), - for stdin, kinesis://STREAM or sqs://QUEUE (required)")
	lf.register(fs, "")
	sf.register(fs)
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file (for development)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake run --from FILE|-|kinesis://STREAM|sqs://QUEUE --lake LAKE [flags]\n\nLands events in the lake, enriched and partitioned; bad events become dead letters.\nFrom Kinesis or SQS it does what the Lambda event source mapping does, running the\nfunction here or, with --invoke, in a Lambda endpoint.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	lf.setFlags(fs)
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "eventlake run: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if _, err := lf.parse(); err != nil {
		return err
	}
	if err := sf.check(from); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(from, "kinesis://"):
		return e.runKinesis(ctx, from, &lf, &sf)
	case strings.HasPrefix(from, "sqs://"):
		return e.runSQS(ctx, from, &lf, &sf)
	}
	if from == "" || lf.lake == "" {
		fmt.Fprintln(e.stderr, "eventlake run: --from and --lake are required")
		fs.Usage()
		return errUsage
	}
	in, source, period, closeIn, err := e.openInput(from)
	if err != nil {
		return err
	}
	defer closeIn()
	w, closeLake, err := lf.open(ctx)
	if err != nil {
		return err
	}
	defer closeLake()
	r, err := pipeline.New(w, lf.config(source, period))
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	return e.runPipeline(ctx, r, in, &lf)
}

// openInput opens a file (decompressing .gz and .zst) or stdin. Files get no
// batch period, so that their batches, and object names, depend only on
// their bytes.
func (e env) openInput(from string) (io.Reader, string, time.Duration, func(), error) {
	if from == "-" {
		return e.stdin, "stdin", 10 * time.Second, func() {}, nil
	}
	f, err := os.Open(from)
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("--from: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, "", 0, nil, fmt.Errorf("--from: %s is a folder, want an NDJSON file", from)
	}
	r, err := lake.NewFileReader(from, f)
	if err != nil {
		f.Close()
		return nil, "", 0, nil, fmt.Errorf("--from %s: %w", from, err)
	}
	closeFn := func() { r.Close(); f.Close() }
	return r, from, 0, closeFn, nil
}

// runPipeline runs r over in with a progress line, then prints the summary.
func (e env) runPipeline(ctx context.Context, r *pipeline.Runner, in io.Reader, lf *lakeFlags) error {
	// Keep the heap, and so the RSS, bounded however large the input: two
	// batches (one filling, one being written) and room for the rest.
	limit := max(2*int64(lf.batchSize())+64<<20, minMemoryLimit)
	if lf.table {
		limit = max(limit, tableMemoryLimit)
	}
	if os.Getenv("GOMEMLIMIT") == "" { // the user's limit wins
		debug.SetMemoryLimit(limit)
	}
	stopProgress := e.progress(lf.quiet, func() string { return progressLine(r.Stats()) })
	st, err := r.Run(ctx, in)
	stopProgress()
	if lf.jsonSummary {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(summaryJSON(st))
	} else {
		printSummary(e.stdout, st)
	}
	if err != nil {
		return err
	}
	if st.Interrupted {
		return errInterrupted
	}
	return nil
}

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eventlake/eventlake/internal/gen"
)

type genFlags struct {
	n        int
	seed     uint64
	start    string
	span     time.Duration
	bad, dup float64
	oversize int
}

func (g *genFlags) register(fs *flag.FlagSet, n int) {
	fs.IntVar(&g.n, "n", n, "number of lines (duplicates and bad events included)")
	fs.Uint64Var(&g.seed, "seed", 42, "random seed: the same seed gives the same bytes")
	fs.StringVar(&g.start, "start", gen.DefaultStart.Format(time.RFC3339), "earliest created_at (RFC 3339)")
	fs.DurationVar(&g.span, "span", 48*time.Hour, "created_at spread over [start, start+span)")
	fs.Float64Var(&g.bad, "bad", 0, "fraction of bad events (each kind of refusal), 0..1")
	fs.Float64Var(&g.dup, "dup", 0, "fraction of duplicate deliveries, 0..1")
	fs.IntVar(&g.oversize, "oversize", 0, "when > 0, bad events include too_large ones of this many bytes")
}

// options checks the flag values (a wrong one is a usage mistake) and
// returns the generator's options.
func (g *genFlags) options() (gen.Options, error) {
	start, err := time.Parse(time.RFC3339, g.start)
	if err != nil {
		return gen.Options{}, badUsage("--start %q: want an RFC 3339 time like 2026-11-01T00:00:00Z", g.start)
	}
	if g.n < 0 {
		return gen.Options{}, badUsage("-n %d: must not be negative", g.n)
	}
	if g.span < 0 || g.oversize < 0 {
		return gen.Options{}, badUsage("--span %s, --oversize %d: must not be negative", g.span, g.oversize)
	}
	opts := gen.Options{Events: g.n, Seed: g.seed, Start: start, Span: g.span, Bad: g.bad, Dup: g.dup, Oversize: g.oversize}
	if err := opts.Check(); err != nil {
		return gen.Options{}, badUsage("--bad %g, --dup %g: %v", g.bad, g.dup, err)
	}
	return opts, nil
}

func (e env) gen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var g genFlags
	var to string
	var rate float64
	var quiet bool
	g.register(fs, 1_000_000)
	var kinesisEndpoint, sqsEndpoint string
	var shards int
	fs.StringVar(&to, "to", "-", "output: a file, - for stdout, kinesis://STREAM or sqs://QUEUE")
	fs.StringVar(&kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint URL (else AWS_ENDPOINT_URL_KINESIS)")
	fs.StringVar(&sqsEndpoint, "sqs-endpoint", "", "SQS endpoint URL (else AWS_ENDPOINT_URL_SQS)")
	fs.IntVar(&shards, "create-shards", 0, "kinesis: create the stream with this many shards if it does not exist")
	keyBy := fs.String("partition-key", "uuid", "kinesis: uuid (spread evenly), or type:N (the event type and one of N buckets by event_uuid: fewer, larger objects per batch)")
	fs.Float64Var(&rate, "rate", 0, "events per second (default: as fast as possible)")
	fs.BoolVar(&quiet, "quiet", false, "no progress line")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake gen [-n N] [--seed S] [--to FILE|-] [flags]\n\nWrites a realistic, deterministic NDJSON event stream.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "eventlake gen: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	opts, err := g.options()
	if err != nil {
		return err
	}
	if rate < 0 {
		return badUsage("--rate %g: must not be negative", rate)
	}
	spread := 0
	if *keyBy != "uuid" {
		n, ok := strings.CutPrefix(*keyBy, "type:")
		if spread, err = strconv.Atoi(n); !ok || err != nil || spread < 1 || spread > 10000 {
			return badUsage("--partition-key %q: want uuid or type:N with N in 1..10000", *keyBy)
		}
	}
	if shards < 0 {
		return badUsage("--create-shards %d: must not be negative", shards)
	}
	switch {
	case strings.HasPrefix(to, "kinesis://"):
		return e.genKinesis(ctx, to, opts, kinesisEndpoint, shards, spread, quiet)
	case strings.HasPrefix(to, "sqs://"):
		return e.genSQS(ctx, to, opts, sqsEndpoint, quiet)
	}
	return e.genFile(ctx, to, opts, rate, quiet)
}

// genFile writes generated events to a file, or to stdout for "-", at rate
// events per second (0: as fast as possible).
func (e env) genFile(ctx context.Context, to string, opts gen.Options, rate float64, quiet bool) error {
	var w io.Writer = e.stdout
	var f *os.File
	var err error
	if to != "-" {
		if f, err = os.Create(to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lines atomic.Int64
	startT := time.Now()
	stop := e.progress(quiet || to == "-", func() string {
		n := lines.Load()
		return fmt.Sprintf("%s of %s lines  %s lines/s", count(n), count(int64(opts.Events)), count(int64(float64(n)/time.Since(startT).Seconds())))
	})
	var st gen.Stats
	if rate > 0 {
		st, err = gen.WritePaced(ctx, bw, opts, rate, lines.Store)
	} else {
		st, err = gen.Write(ctx, bw, opts, lines.Store)
	}
	stop()
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	if to != "-" {
		secs := time.Since(startT).Seconds()
		fmt.Fprintf(e.stderr, "wrote %d lines (%s) to %s in %.2fs: %d good, %d duplicates, %d bad\n",
			st.Lines, bytesize(st.Bytes), to, secs, st.Good, st.Dups, st.Lines-st.Good-st.Dups)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/eventlake/eventlake/internal/cost"
)

func (e env) cost(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t cost.Traffic
	fs.Float64Var(&t.EventsPerHour, "events-per-hour", 1_000_000, "events per hour")
	fs.Float64Var(&t.EventBytes, "event-bytes", 500, "average event size in bytes")
	fs.IntVar(&t.Types, "types", 100, "event types (partitions per day)")
	fs.IntVar(&t.BatchSize, "batch-size", 10000, "records per Lambda invocation")
	fs.Float64Var(&t.WindowSeconds, "window", 60, "batching window in seconds")
	fs.Float64Var(&t.LambdaMemoryMB, "memory", 512, "Lambda memory in MB")
	fs.Float64Var(&t.CompressionRatio, "compression-ratio", 8, "input bytes per stored byte (gzip on JSON events)")
	fs.Float64Var(&t.BadFraction, "bad", 0.001, "fraction of events that are dead letters")
	fs.Float64Var(&t.FirehoseBufferSec, "firehose-buffer", 60, "Firehose buffer interval in seconds")
	iceberg := fs.Bool("iceberg", false, "also estimate landing into an Iceberg table on S3 with the Glue catalog")
	fs.IntVar(&t.KeySpread, "key-spread", 0, "0: producers key records by event_uuid; N: by event type and N buckets (gen --partition-key type:N)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake cost [--events-per-hour N] [--event-bytes B] [--types T] [flags]\n\nMonthly cost in us-east-1 of eventlake beside Amazon Data Firehose with dynamic partitioning.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"--events-per-hour", t.EventsPerHour <= 0}, {"--event-bytes", t.EventBytes <= 0}, {"--types", t.Types <= 0},
		{"--batch-size", t.BatchSize <= 0}, {"--window", t.WindowSeconds < 0}, {"--memory", t.LambdaMemoryMB <= 0},
		{"--compression-ratio", t.CompressionRatio <= 0}, {"--bad", t.BadFraction < 0 || t.BadFraction > 1},
		{"--firehose-buffer", t.FirehoseBufferSec < 0}, {"--key-spread", t.KeySpread < 0},
	} {
		if f.bad {
			return badUsage("%s %s: out of range (counts and sizes positive, --bad within 0..1)", f.name, fs.Lookup(strings.TrimPrefix(f.name, "--")).Value)
		}
	}
	t = t.Defaults()
	p := cost.USEast1
	ests := []cost.Estimate{cost.Eventlake(p, t, false), cost.Eventlake(p, t, true)}
	if *iceberg {
		ests = append(ests, cost.Table(p, t, true), cost.TableCommitter(p, t, true))
	}
	ests = append(ests, cost.Firehose(p, t))
	fmt.Fprintf(e.stdout, "Monthly cost, us-east-1, list prices of %s\n", p.Date)
	fmt.Fprintf(e.stdout, "Traffic: %.4g events/hour (%.4g/month) of %.0f bytes, %d event types; batches of %d, window %.0fs; Lambda arm64 %.0f MB\n\n",
		t.EventsPerHour, t.EventsPerHour*730, t.EventBytes, t.Types, t.BatchSize, t.WindowSeconds, t.LambdaMemoryMB)
	for _, est := range ests {
		fmt.Fprintf(e.stdout, "%s\n", est.Name)
		for _, l := range est.Lines {
			fmt.Fprintf(e.stdout, "  %-60s %-42s $%12.2f\n", l.Item, l.Quantity, l.USD)
		}
		fmt.Fprintf(e.stdout, "  %-60s %-42s $%12.2f\n\n", "TOTAL", "", est.Total())
	}
	fmt.Fprintf(e.stdout, "Assumptions: Lambda runs %.0f ms per batch plus %.1f µs per event; stored size = input / %.0f;\n"+
		"provisioned streams get 2x the shards the writes need (%d); Firehose flushes each event type every %.0fs;\n"+
		"compaction runs hourly, one invocation per event type, %.0f µs per event at %.0f MB, and reads each landed object once;\n"+
		"free tiers, data transfer and CloudWatch Logs are not counted.\n",
		t.FixedMsPerBatch, t.MicrosPerEvent, t.CompressionRatio, cost.Shards(t), t.FirehoseBufferSec, t.CompactMicrosPerEvent, t.CompactMemoryMB)
	if *iceberg {
		l := cost.Load(t, true)
		fmt.Fprintf(e.stdout, "The table: one commit per batch (%.0f/hour), each holding the table ~%.1f s, and %.0f µs of Parquet per event;\n",
			l.CommitsPerHour, t.CommitSeconds, t.TableMicrosPerEvent)
		if l.Busy >= 0.5 {
			fmt.Fprintf(e.stdout, "at %.1f commits/s the table is busy %.0f%% of the time: writers would conflict more than they commit.\n", l.CommitsPerHour/3600, 100*l.Busy)
		} else {
			fmt.Fprintf(e.stdout, "the table is busy %.1f%% of the time: per-shard commits rarely conflict.\n", 100*l.Busy)
		}
		c := cost.CommitterLoad(t, true)
		fmt.Fprintf(e.stdout, "Through its committer (Terraform's default, iceberg_committer): up to %.0f staged batches a commit, gathered %.0fs: %.0f commits/hour, the table busy %.1f%% of the time.\n",
			t.CommitBatchSize, t.CommitWindowSec, c.CommitsPerHour, 100*c.Busy)
	}
	return nil
}

package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/compact"
	"github.com/eventlake/eventlake/internal/lake"
)

// The environment variables of the compaction function (the same binary,
// run with the handler "compact"). Terraform sets exactly these on it (a
// test checks it).
const (
	EnvCompactOlderThan     = "EVENTLAKE_COMPACT_OLDER_THAN"      // leave objects younger than this; default 1h
	EnvCompactTargetSize    = "EVENTLAKE_COMPACT_TARGET_SIZE"     // bytes per object written; default 134217728
	EnvCompactGrace         = "EVENTLAKE_COMPACT_GRACE"           // superseded objects kept this long; default 15m
	EnvCompactMaxRoundBytes = "EVENTLAKE_COMPACT_MAX_ROUND_BYTES" // uncompressed bytes in memory at once; default 268435456
	EnvCompactConcurrency   = "EVENTLAKE_COMPACT_CONCURRENCY"     // partitions at once; default 4
	EnvCompactQueueURL      = "EVENTLAKE_COMPACT_QUEUE_URL"       // SQS queue: a scheduled run queues one message per event type there; empty: it compacts everything itself
)

// CompactEnvVars lists every variable the compaction function reads: the
// lake's compaction's, then EVENTLAKE_TABLE and the table maintenance's
// (maintain.go).
var CompactEnvVars = []string{EnvLakeURL, EnvFormat, EnvCompression, EnvLogLevel, EnvMetricsNamespace, EnvDeadlineMargin,
	EnvCompactOlderThan, EnvCompactTargetSize, EnvCompactGrace, EnvCompactMaxRoundBytes, EnvCompactConcurrency, EnvCompactQueueURL,
	EnvTable, EnvTableExpireOlderThan, EnvTableRetainLast, EnvTableRememberBatches, EnvTableOrphansOlderThan}

// CompactConfig is the compaction function's configuration.
type CompactConfig struct {
	LakeURL          string
	QueueURL         string
	Options          compact.Options // Format and Compression set only when the variables are
	LogLevel         slog.Level
	MetricsNamespace string
	DeadlineMargin   time.Duration
	// TableURL, if set, names the Iceberg table to maintain too (the
	// bootstrap opens it and passes it as CompactDeps.Table); Table says
	// how. Table.TargetSize is Options.TargetSize.
	TableURL string
	Table    TableConfig
}

// CompactConfigFromEnv reads the compaction function's configuration,
// refusing bad values with a message naming the variable.
func CompactConfigFromEnv(getenv func(string) string) (CompactConfig, error) {
	c := CompactConfig{
		LakeURL:  getenv(EnvLakeURL),
		QueueURL: getenv(EnvCompactQueueURL),
		TableURL: getenv(EnvTable),
		Table:    DefaultTableConfig,
		Options: compact.Options{
			OlderThan: time.Hour, TargetSize: 128 << 20, Grace: 15 * time.Minute,
			MaxRoundBytes: 256 << 20, Concurrency: 4,
		},
		MetricsNamespace: "eventlake",
		DeadlineMargin:   30 * time.Second,
	}
	r := envReader{getenv: getenv}
	r.lakeURL(c.LakeURL)
	r.parse(EnvFormat, func(v string) error {
		f, err := lake.ParseFormat(v)
		c.Options.Format = &f
		return err
	})
	r.parse(EnvCompression, func(v string) error {
		comp, err := lake.ParseCompression(v)
		c.Options.Compression = &comp
		return err
	})
	r.duration(EnvCompactOlderThan, &c.Options.OlderThan)
	r.duration(EnvCompactGrace, &c.Options.Grace)
	r.duration(EnvDeadlineMargin, &c.DeadlineMargin)
	r.positive(EnvCompactTargetSize, &c.Options.TargetSize)
	r.positive(EnvCompactMaxRoundBytes, &c.Options.MaxRoundBytes)
	conc := int64(c.Options.Concurrency)
	r.positive(EnvCompactConcurrency, &conc)
	c.Options.Concurrency = int(conc)
	r.logLevel(&c.LogLevel)
	r.str(EnvMetricsNamespace, &c.MetricsNamespace)
	r.readTable(&c.Table)
	c.Table.TargetSize = c.Options.TargetSize
	return c, r.err()
}

// PartitionQueue takes the partitions to compact, one message each.
type PartitionQueue interface {
	SendAll(ctx context.Context, bodies [][]byte) error
}

// Compactor is the compaction function.
type Compactor struct {
	cfg     CompactConfig
	lake    lake.ReadWriteStore
	queue   PartitionQueue
	table   Table
	log     *slog.Logger
	metrics io.Writer
	name    string
}

// CompactDeps are the compaction function's connections.
type CompactDeps struct {
	Lake         lake.ReadWriteStore // required
	Queue        PartitionQueue      // nil: a scheduled run compacts everything itself
	Log          *slog.Logger        // nil: discard
	Metrics      io.Writer           // EMF documents, one per line; nil: discard
	FunctionName string
	// Table, if set, is the Iceberg table EVENTLAKE_TABLE names, maintained
	// on schedule (maintain.go); nil when the variable is empty.
	Table Table
}

// NewCompactor returns the compaction handler.
func NewCompactor(cfg CompactConfig, d CompactDeps) (*Compactor, error) {
	if d.Lake == nil {
		return nil, errors.New("function: no lake store")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = io.Discard
	}
	if (cfg.TableURL != "") != (d.Table != nil) {
		return nil, fmt.Errorf("function: %s and CompactDeps.Table go together (the bootstrap opens the table the variable names)", EnvTable)
	}
	return &Compactor{cfg: cfg, lake: d.Lake, queue: d.Queue, table: d.Table, log: d.Log, metrics: d.Metrics, name: d.FunctionName}, nil
}

// CompactResult is the function's answer to a scheduled or manual run.
type CompactResult struct {
	compact.Stats
	// Stopped says the run stopped at the deadline; the lake is consistent
	// and the next run goes on.
	Stopped bool `json:",omitempty"`
	// Queued is how many event types were queued for compaction, when a
	// queue is configured.
	Queued int `json:",omitempty"`
	// TableQueued: the table's maintenance was queued (with a queue and
	// the table).
	TableQueued bool `json:",omitempty"`
	// Table is the table maintenance run by this invocation.
	Table *TableResult `json:",omitempty"`
}

// Request is a manual run's payload, and a compaction queue message:
// compact only under Partition.
type Request struct {
	Partition string `json:"partition,omitempty"`
	// Table asks for the Iceberg table's maintenance instead (compaction
	// of the whole table, snapshot expiry, orphan sweep).
	Table bool `json:"table,omitempty"`
	// Attempt counts the invocations that stopped at their deadline before
	// this one, for a message queued to go on with their work.
	Attempt int `json:"attempt,omitempty"`
}

// maxAttempts bounds how often work stopped at the deadline is queued
// again: progress is made round by round, so only a round too big to
// finish in one invocation comes back that often.
const maxAttempts = 20

// Invoke takes three payloads:
//
//   - an SQS event from the compaction queue: each message is a Request;
//     each is compacted, and a failed or stopped one is reported as a
//     batch item failure, so SQS delivers it again and the next attempt
//     goes on where this one stopped;
//   - {"partition": "event_type=x/"}: compacts that folder now;
//   - {"table": true}: maintains the Iceberg table now (maintain.go);
//   - anything else (the EventBridge schedule's event): with a queue,
//     queues one Request per event type, so that as many functions as the
//     mapping allows compact them at once, and, with the table, one
//     Request for the table; without a queue, compacts everything, then
//     maintains the table.
//
// A run stops DeadlineMargin before the invocation's deadline: a stop is as
// safe as a crash.
func (c *Compactor) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
		Request
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &probe); err != nil {
			return nil, fmt.Errorf("compaction payload is not JSON: %w", err)
		}
	}
	if len(probe.Records) > 0 {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("bad SQS event: %w", err)
		}
		return c.fromQueue(ctx, ev), nil
	}
	switch {
	case probe.Table:
		tr, err := c.maintainTable(ctx)
		return CompactResult{Table: &tr}, err
	case probe.Partition == "" && c.queue != nil:
		return c.fanOut(ctx)
	case probe.Partition == "" && c.table != nil:
		res, err := c.run(ctx, "", nil)
		tr, terr := c.maintainTable(ctx)
		res.Table = &tr
		return res, errors.Join(err, terr)
	}
	return c.run(ctx, probe.Partition, nil)
}

// fanOut queues one Request per event type.
func (c *Compactor) fanOut(ctx context.Context) (CompactResult, error) {
	dirs, err := lake.Dirs(ctx, c.lake, "")
	if err != nil {
		return CompactResult{}, err
	}
	var bodies [][]byte
	for _, d := range dirs {
		if strings.HasPrefix(d, "event_type=") {
			b, _ := json.Marshal(Request{Partition: d})
			bodies = append(bodies, b)
		}
	}
	res := CompactResult{Queued: len(bodies)}
	if c.table != nil {
		// One message for the whole table: its compaction plans every
		// partition and commits them in one snapshot (maintain.go).
		b, _ := json.Marshal(Request{Table: true})
		bodies = append(bodies, b)
		res.TableQueued = true
	}
	if err := c.queue.SendAll(ctx, bodies); err != nil {
		c.log.Error("queueing event types for compaction failed", "error", err.Error())
		return CompactResult{}, err
	}
	c.log.Info("queued event types for compaction", "event_types", res.Queued, "table", res.TableQueued)
	return res, nil
}

// fromQueue compacts the partitions the messages name.
func (c *Compactor) fromQueue(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range ev.Records {
		var req Request
		if err := json.Unmarshal([]byte(m.Body), &req); err != nil || (req.Partition == "") == !req.Table {
			// Not ours to retry: a bad message would come back forever.
			c.log.Error("compaction message is not a request; dropped to the queue's DLQ by retries", "message_id", m.MessageId, "body", m.Body)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		if req.Table {
			// Only a failure comes back: a stopped step committed nothing,
			// and the next schedule starts it again anyway.
			if _, err := c.maintainTable(ctx); err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
			continue
		}
		var done []string
		res, err := c.run(ctx, req.Partition, func(p compact.Partition) {
			if p.Err == nil {
				done = append(done, p.Partition)
			}
		})
		if err == nil && res.Stopped && c.queue != nil && req.Attempt < maxAttempts {
			// Go on at once, with what is left, one partition a message:
			// a big event type's days are then compacted side by side.
			err = c.requeue(ctx, req, done)
			if err == nil {
				continue
			}
		}
		if err != nil || res.Stopped {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}

// requeue queues the partitions under req.Partition that are not done.
func (c *Compactor) requeue(ctx context.Context, req Request, done []string) error {
	parts, err := compact.Partitions(ctx, c.lake, req.Partition)
	if err != nil {
		return err
	}
	var bodies [][]byte
	for _, p := range parts {
		if !slices.Contains(done, p) {
			b, _ := json.Marshal(Request{Partition: p, Attempt: req.Attempt + 1})
			bodies = append(bodies, b)
		}
	}
	c.log.Info("compaction stopped at the deadline; queued what is left", "partition", req.Partition, "queued", len(bodies), "attempt", req.Attempt+1)
	return c.queue.SendAll(ctx, bodies)
}

// run compacts under partition ("" for the whole lake); progress, when
// set, hears of each partition.
func (c *Compactor) run(ctx context.Context, partition string, progress func(compact.Partition)) (CompactResult, error) {
	opts := c.cfg.Options
	opts.Prefix = partition
	opts.Progress = progress
	runCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, dl.Add(-c.cfg.DeadlineMargin))
		defer cancel()
	}
	start := time.Now()
	st, err := compact.Run(runCtx, c.lake, &opts)
	res := CompactResult{Stats: st}
	if err != nil && runCtx.Err() != nil && ctx.Err() == nil {
		res.Stopped, err = true, nil
	}
	took := time.Since(start)
	c.emit(res, took, err != nil)
	attrs := []any{"partition", partition, "partitions", st.Partitions, "rounds", st.Rounds, "input_objects", st.InputObjects, "output_objects", st.OutputObjects,
		"events", st.Events, "duplicates", st.Duplicates, "deleted", st.Deleted, "conflicts", st.Conflicts, "stopped", res.Stopped, "ms", took.Milliseconds()}
	if err != nil {
		c.log.Error("compaction failed", append(attrs, "error", err.Error())...)
		return res, err
	}
	c.log.Info("compaction", attrs...)
	return res, nil
}

func (c *Compactor) emit(res CompactResult, took time.Duration, failed bool) {
	json.NewEncoder(c.metrics).Encode(emfDoc(c.cfg.MetricsNamespace, []string{"FunctionName"}, []metric{
		{"CompactedObjects", "Count"}, {"CompactedBytes", "Bytes"}, {"WrittenObjects", "Count"},
		{"DuplicatesRemoved", "Count"}, {"DeletedObjects", "Count"}, {"CompactionFailures", "Count"}, {"CompactionDuration", "Milliseconds"},
	}, time.Now().UnixMilli(), map[string]any{
		"FunctionName":     c.name,
		"CompactedObjects": res.InputObjects, "CompactedBytes": res.InputBytes, "WrittenObjects": res.OutputObjects,
		"DuplicatesRemoved": res.Duplicates, "DeletedObjects": res.Deleted, "CompactionFailures": count(failed),
		"CompactionDuration": took.Milliseconds(),
	}))
}

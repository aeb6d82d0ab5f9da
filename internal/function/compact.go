package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

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
)

// CompactEnvVars lists every variable the compaction function reads.
var CompactEnvVars = []string{EnvLakeURL, EnvFormat, EnvCompression, EnvLogLevel, EnvMetricsNamespace, EnvDeadlineMargin,
	EnvCompactOlderThan, EnvCompactTargetSize, EnvCompactGrace, EnvCompactMaxRoundBytes, EnvCompactConcurrency}

// CompactConfig is the compaction function's configuration.
type CompactConfig struct {
	LakeURL          string
	Options          compact.Options // Format and Compression set only when the variables are
	LogLevel         slog.Level
	MetricsNamespace string
	DeadlineMargin   time.Duration
}

// CompactConfigFromEnv reads the compaction function's configuration,
// refusing bad values with a message naming the variable.
func CompactConfigFromEnv(getenv func(string) string) (CompactConfig, error) {
	c := CompactConfig{
		LakeURL: getenv(EnvLakeURL),
		Options: compact.Options{
			OlderThan: time.Hour, TargetSize: 128 << 20, Grace: 15 * time.Minute,
			MaxRoundBytes: 256 << 20, Concurrency: 4,
		},
		MetricsNamespace: "eventlake",
		DeadlineMargin:   30 * time.Second,
	}
	var errs []string
	if c.LakeURL == "" {
		errs = append(errs, EnvLakeURL+" is required (s3://bucket/prefix)")
	}
	if v := getenv(EnvFormat); v != "" {
		f, err := lake.ParseFormat(v)
		if err != nil {
			errs = append(errs, EnvFormat+": "+err.Error())
		}
		c.Options.Format = &f
	}
	if v := getenv(EnvCompression); v != "" {
		comp, err := lake.ParseCompression(v)
		if err != nil {
			errs = append(errs, EnvCompression+": "+err.Error())
		}
		c.Options.Compression = &comp
	}
	duration := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a duration like 15m", name, v))
				return
			}
			*dst = d
		}
	}
	duration(EnvCompactOlderThan, &c.Options.OlderThan)
	duration(EnvCompactGrace, &c.Options.Grace)
	duration(EnvDeadlineMargin, &c.DeadlineMargin)
	positive := func(name string, dst *int64) {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a positive number", name, v))
				return
			}
			*dst = n
		}
	}
	positive(EnvCompactTargetSize, &c.Options.TargetSize)
	positive(EnvCompactMaxRoundBytes, &c.Options.MaxRoundBytes)
	conc := int64(c.Options.Concurrency)
	positive(EnvCompactConcurrency, &conc)
	c.Options.Concurrency = int(conc)
	if v := getenv(EnvLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: want debug, info, warn or error", EnvLogLevel, v))
		}
	}
	if v := getenv(EnvMetricsNamespace); v != "" {
		c.MetricsNamespace = v
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// Compactor is the scheduled compaction function.
type Compactor struct {
	cfg     CompactConfig
	lake    lake.Reader
	log     *slog.Logger
	metrics io.Writer
	name    string
}

// NewCompactor returns the compaction handler over store.
func NewCompactor(cfg CompactConfig, store lake.Reader, log *slog.Logger, metrics io.Writer, functionName string) (*Compactor, error) {
	if store == nil {
		return nil, errors.New("function: no lake store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = io.Discard
	}
	return &Compactor{cfg: cfg, lake: store, log: log, metrics: metrics, name: functionName}, nil
}

// CompactResult is the function's answer.
type CompactResult struct {
	compact.Stats
	// Stopped says the run stopped at the deadline; the lake is consistent
	// and the next scheduled run goes on.
	Stopped bool `json:",omitempty"`
}

// Invoke runs one compaction. The payload is the EventBridge Scheduler's
// (ignored), or {"partition": "event_type=x/"} to compact only that
// folder, for a manual run. It stops DeadlineMargin before the
// invocation's deadline: a stop is as safe as a crash, and the next run
// takes up where it stopped.
func (c *Compactor) Invoke(ctx context.Context, payload json.RawMessage) (CompactResult, error) {
	opts := c.cfg.Options
	var req struct {
		Partition string `json:"partition"`
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &req); err != nil {
			return CompactResult{}, fmt.Errorf("compaction payload: %w", err)
		}
	}
	opts.Prefix = req.Partition
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
	attrs := []any{"partitions", st.Partitions, "rounds", st.Rounds, "input_objects", st.InputObjects, "output_objects", st.OutputObjects,
		"events", st.Events, "duplicates", st.Duplicates, "deleted", st.Deleted, "conflicts", st.Conflicts, "stopped", res.Stopped, "ms", took.Milliseconds()}
	if err != nil {
		c.log.Error("compaction failed", append(attrs, "error", err.Error())...)
		return res, err
	}
	c.log.Info("compaction", attrs...)
	return res, nil
}

func (c *Compactor) emit(res CompactResult, took time.Duration, failed bool) {
	failures := 0
	if failed {
		failures = 1
	}
	json.NewEncoder(c.metrics).Encode(map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  c.cfg.MetricsNamespace,
				"Dimensions": [][]string{{"FunctionName"}},
				"Metrics": []metric{{"CompactedObjects", "Count"}, {"CompactedBytes", "Bytes"}, {"WrittenObjects", "Count"},
					{"DuplicatesRemoved", "Count"}, {"DeletedObjects", "Count"}, {"CompactionFailures", "Count"}, {"CompactionDuration", "Milliseconds"}},
			}},
		},
		"FunctionName":     c.name,
		"CompactedObjects": res.InputObjects, "CompactedBytes": res.InputBytes, "WrittenObjects": res.OutputObjects,
		"DuplicatesRemoved": res.Duplicates, "DeletedObjects": res.Deleted, "CompactionFailures": failures,
		"CompactionDuration": took.Milliseconds(),
	})
}

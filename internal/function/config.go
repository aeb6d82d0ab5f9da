// Package function is the Lambda function: it takes Kinesis and SQS batches
// as the event source mappings deliver them, lands their events with the
// same rules and lake code as the CLI, sends bad events to the dead-letter
// queue, and answers with the partial batch response AWS reads. It reaches
// S3 and SQS only through the interfaces it is given.
package function

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/sqs"
)

// The environment variables the function reads. Terraform sets exactly
// these (a test checks it); the AWS SDK also reads the standard AWS_*
// variables, AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SQS among them.
const (
	EnvLakeURL            = "EVENTLAKE_LAKE_URL"                      // required: s3://bucket/prefix
	EnvDeadLetterQueueURL = "EVENTLAKE_DEAD_LETTER_QUEUE_URL"         // SQS queue URL; empty: dead letters go to the lake's _dead_letters/
	EnvLayout             = "EVENTLAKE_LAYOUT"                        // daily (default), type or hourly
	EnvCompression        = "EVENTLAKE_COMPRESSION"                   // gzip (default), zstd or none
	EnvFormat             = "EVENTLAKE_FORMAT"                        // jsonl (default) or parquet
	EnvMaxEventSize       = "EVENTLAKE_MAX_EVENT_SIZE"                // bytes; default 1048576
	EnvDeadLetterMaxBytes = "EVENTLAKE_DEAD_LETTER_MAX_MESSAGE_BYTES" // larger dead letters go to the lake, a pointer to the queue; default 262144
	EnvDeadlineMargin     = "EVENTLAKE_DEADLINE_MARGIN"               // stop this long before the deadline; default 5s
	EnvLogLevel           = "EVENTLAKE_LOG_LEVEL"                     // debug, info (default), warn, error
	EnvMetricsNamespace   = "EVENTLAKE_METRICS_NAMESPACE"             // CloudWatch namespace of the EMF metrics; default eventlake
	EnvTable              = "EVENTLAKE_TABLE"                         // glue://DATABASE/TABLE?warehouse=s3://BUCKET/PREFIX: land into that Iceberg table instead of the lake's objects; empty: off
	// With EnvTable: the SQS queue URL of the table's committer. Each
	// batch's data files are written and handed to it (table.Stage),
	// not committed here; empty: each batch is committed by the function
	// landing it.
	EnvTableCommitQueueURL = "EVENTLAKE_TABLE_COMMIT_QUEUE_URL"
)

// EnvVars lists every variable above.
var EnvVars = []string{EnvLakeURL, EnvDeadLetterQueueURL, EnvLayout, EnvCompression, EnvFormat, EnvMaxEventSize, EnvDeadLetterMaxBytes, EnvDeadlineMargin, EnvLogLevel, EnvMetricsNamespace, EnvTable, EnvTableCommitQueueURL}

// Config is the function's configuration.
type Config struct {
	LakeURL            string
	DeadLetterQueueURL string
	Layout             lake.Layout
	Compression        lake.Compression
	Format             lake.Format
	MaxEventSize       int
	DeadLetterMaxBytes int
	DeadlineMargin     time.Duration
	LogLevel           slog.Level
	MetricsNamespace   string
	// TableURL, if set, names the Iceberg table events land in (the
	// bootstrap opens it and passes its sink as Deps.Sink); dead letters
	// still go to the queue, or to the lake.
	TableURL string
	// TableCommitQueueURL, with TableURL, is the queue of the table's
	// committer, to which batches are handed staged.
	TableCommitQueueURL string
}

// ConfigFromEnv reads the configuration, refusing bad values with a message
// naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		LakeURL:             getenv(EnvLakeURL),
		DeadLetterQueueURL:  getenv(EnvDeadLetterQueueURL),
		TableURL:            getenv(EnvTable),
		TableCommitQueueURL: getenv(EnvTableCommitQueueURL),
		MaxEventSize:        event.DefaultMaxSize,
		DeadLetterMaxBytes:  sqs.MaxBatchBytes,
		DeadlineMargin:      5 * time.Second,
		MetricsNamespace:    "eventlake",
	}
	r := envReader{getenv: getenv}
	r.lakeURL(c.LakeURL)
	r.parse(EnvLayout, func(v string) (err error) { c.Layout, err = lake.ParseLayout(v); return })
	r.parse(EnvCompression, func(v string) (err error) { c.Compression, err = lake.ParseCompression(v); return })
	r.parse(EnvFormat, func(v string) (err error) { c.Format, err = lake.ParseFormat(v); return })
	var maxEvent, maxDead int64 = int64(c.MaxEventSize), int64(c.DeadLetterMaxBytes)
	r.positive(EnvMaxEventSize, &maxEvent)
	r.positive(EnvDeadLetterMaxBytes, &maxDead)
	c.MaxEventSize, c.DeadLetterMaxBytes = int(maxEvent), int(maxDead)
	if c.DeadLetterMaxBytes > sqs.MaxBatchBytes {
		r.errs = append(r.errs, fmt.Sprintf("%s: at most %d", EnvDeadLetterMaxBytes, sqs.MaxBatchBytes))
	}
	r.duration(EnvDeadlineMargin, &c.DeadlineMargin)
	r.logLevel(&c.LogLevel)
	r.str(EnvMetricsNamespace, &c.MetricsNamespace)
	if c.TableCommitQueueURL != "" && c.TableURL == "" {
		r.errs = append(r.errs, EnvTableCommitQueueURL+" is set without "+EnvTable+": it is the queue of that table's committer")
	}
	return c, r.err()
}

// envReader reads variables into a configuration, collecting every
// problem, each naming its variable.
type envReader struct {
	getenv func(string) string
	errs   []string
}

func (r *envReader) lakeURL(v string) {
	if v == "" {
		r.errs = append(r.errs, EnvLakeURL+" is required (s3://bucket/prefix)")
	}
}

// parse hands a set variable to fn.
func (r *envReader) parse(name string, fn func(string) error) {
	if v := r.getenv(name); v != "" {
		if err := fn(v); err != nil {
			r.errs = append(r.errs, name+": "+err.Error())
		}
	}
}

func (r *envReader) str(name string, dst *string) {
	if v := r.getenv(name); v != "" {
		*dst = v
	}
}

func (r *envReader) positive(name string, dst *int64) {
	if v := r.getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			r.errs = append(r.errs, fmt.Sprintf("%s=%q: want a positive number", name, v))
			return
		}
		*dst = n
	}
}

func (r *envReader) duration(name string, dst *time.Duration) {
	if v := r.getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			r.errs = append(r.errs, fmt.Sprintf("%s=%q: want a duration like 5s or 15m", name, v))
			return
		}
		*dst = d
	}
}

func (r *envReader) logLevel(dst *slog.Level) {
	if v := r.getenv(EnvLogLevel); v != "" {
		if err := dst.UnmarshalText([]byte(v)); err != nil {
			r.errs = append(r.errs, fmt.Sprintf("%s=%q: want debug, info, warn or error", EnvLogLevel, v))
		}
	}
}

func (r *envReader) err() error {
	if len(r.errs) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(r.errs, "; "))
	}
	return nil
}

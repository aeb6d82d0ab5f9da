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
)

// EnvVars lists every variable above.
var EnvVars = []string{EnvLakeURL, EnvDeadLetterQueueURL, EnvLayout, EnvCompression, EnvFormat, EnvMaxEventSize, EnvDeadLetterMaxBytes, EnvDeadlineMargin, EnvLogLevel, EnvMetricsNamespace}

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
}

// ConfigFromEnv reads the configuration, refusing bad values with a message
// naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		LakeURL:            getenv(EnvLakeURL),
		DeadLetterQueueURL: getenv(EnvDeadLetterQueueURL),
		MaxEventSize:       event.DefaultMaxSize,
		DeadLetterMaxBytes: sqs.MaxBatchBytes,
		DeadlineMargin:     5 * time.Second,
		MetricsNamespace:   "eventlake",
	}
	var errs []string
	if c.LakeURL == "" {
		errs = append(errs, EnvLakeURL+" is required (s3://bucket/prefix)")
	}
	if v := getenv(EnvLayout); v != "" {
		l, err := lake.ParseLayout(v)
		if err != nil {
			errs = append(errs, EnvLayout+": "+err.Error())
		}
		c.Layout = l
	}
	if v := getenv(EnvCompression); v != "" {
		comp, err := lake.ParseCompression(v)
		if err != nil {
			errs = append(errs, EnvCompression+": "+err.Error())
		}
		c.Compression = comp
	}
	if v := getenv(EnvFormat); v != "" {
		f, err := lake.ParseFormat(v)
		if err != nil {
			errs = append(errs, EnvFormat+": "+err.Error())
		}
		c.Format = f
	}
	positive := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Sprintf("%s=%q: want a positive number of bytes", name, v))
				return
			}
			*dst = n
		}
	}
	positive(EnvMaxEventSize, &c.MaxEventSize)
	positive(EnvDeadLetterMaxBytes, &c.DeadLetterMaxBytes)
	if c.DeadLetterMaxBytes > sqs.MaxBatchBytes {
		errs = append(errs, fmt.Sprintf("%s: at most %d", EnvDeadLetterMaxBytes, sqs.MaxBatchBytes))
	}
	if v := getenv(EnvDeadlineMargin); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: want a duration like 5s", EnvDeadlineMargin, v))
		}
		c.DeadlineMargin = d
	}
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

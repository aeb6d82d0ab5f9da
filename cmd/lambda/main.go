// Command lambda is the eventlake Lambda function (built as "bootstrap" for
// the provided.al2023 runtime; see scripts/build-lambda). It lands Kinesis
// and SQS batches in the S3 lake. Configuration comes from the environment:
// see internal/function/config.go for every variable.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/sqs"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "eventlake function:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := function.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	store, err := lake.Open(ctx, cfg.LakeURL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", function.EnvLakeURL, err)
	}
	deps := function.Deps{Lake: store, Log: log, Metrics: os.Stdout, FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	if cfg.DeadLetterQueueURL != "" {
		q, err := sqs.Open(ctx, cfg.DeadLetterQueueURL, sqs.Options{})
		if err != nil {
			return fmt.Errorf("%s: %w", function.EnvDeadLetterQueueURL, err)
		}
		deps.DeadLetters = q
	}
	h, err := function.New(cfg, deps)
	if err != nil {
		return err
	}
	lambda.Start(h.Invoke)
	return nil
}

package sqs

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// Function is what an SQS event source mapping invokes: a Lambda
// function's handler of SQS events. The function landing events here
// (function.Handler) and a client of a function elsewhere (invoke.Client)
// are ones.
type Function interface {
	// SQS handles ev. Its response names the messages that failed
	// (BatchItemFailures); an error means the invocation failed and every
	// message is retried.
	SQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)
}

// FunctionHandler returns the Handler that invokes fn and reads the ids of
// the failed messages from its partial batch response.
func FunctionHandler(fn Function) Handler {
	return func(ctx context.Context, ev events.SQSEvent) ([]string, error) {
		resp, err := fn.SQS(ctx, ev)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(resp.BatchItemFailures))
		for i, f := range resp.BatchItemFailures {
			ids[i] = f.ItemIdentifier
		}
		return ids, nil
	}
}

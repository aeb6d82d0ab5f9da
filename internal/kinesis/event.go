package kinesis

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// Function is what a Kinesis event source mapping invokes: a Lambda
// function's handler of Kinesis events. The function landing events here
// (function.Handler) and a client of a function elsewhere (invoke.Client)
// are ones.
type Function interface {
	// Kinesis handles ev. Its response names the first record not done
	// (BatchItemFailures); an error means the invocation failed and nothing
	// is known to be done.
	Kinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error)
}

// FunctionProcessor returns the Processor that invokes fn with each batch,
// as the event a mapping in region sends (see Event), and reads its partial
// batch response.
func FunctionProcessor(fn Function, region string) Processor {
	return ProcessorFunc(func(ctx context.Context, b Batch) (string, error) {
		resp, err := fn.Kinesis(ctx, Event(b, region))
		if err != nil {
			return "", err
		}
		if len(resp.BatchItemFailures) > 0 {
			return resp.BatchItemFailures[0].ItemIdentifier, nil
		}
		return "", nil
	})
}

// Event is the event a Kinesis event source mapping in region sends a
// Lambda function for b.
func Event(b Batch, region string) events.KinesisEvent {
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(b.Records))}
	for i, r := range b.Records {
		rec := &ev.Records[i]
		rec.EventSource, rec.EventVersion, rec.EventName = "aws:kinesis", "1.0", "aws:kinesis:record"
		rec.EventID = b.ShardID + ":" + r.SequenceNumber
		rec.EventSourceArn, rec.AwsRegion = b.StreamARN, region
		rec.Kinesis.KinesisSchemaVersion = "1.0"
		rec.Kinesis.PartitionKey, rec.Kinesis.SequenceNumber, rec.Kinesis.Data = r.PartitionKey, r.SequenceNumber, r.Data
		rec.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: r.ArrivalTime}
	}
	return ev
}

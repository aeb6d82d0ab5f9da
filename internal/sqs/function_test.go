package sqs

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

type fakeFunction struct {
	resp events.SQSEventResponse
	err  error
	got  []events.SQSEvent
}

func (f *fakeFunction) SQS(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	f.got = append(f.got, ev)
	return f.resp, f.err
}

func TestFunctionHandlerReadsThePartialBatchResponse(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1"}, {MessageId: "m2"}, {MessageId: "m3"}}}
	for _, tc := range []struct {
		name   string
		resp   events.SQSEventResponse
		err    error
		failed []string
	}{
		{"all done", events.SQSEventResponse{}, nil, []string{}},
		{"partial", events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}, {ItemIdentifier: "m3"}}}, nil, []string{"m1", "m3"}},
		{"invocation failed", events.SQSEventResponse{}, errors.New("function crashed"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := &fakeFunction{resp: tc.resp, err: tc.err}
			failed, err := FunctionHandler(fn)(context.Background(), ev)
			if !errors.Is(err, tc.err) || !slices.Equal(failed, tc.failed) {
				t.Fatalf("handler = %v, %v; want %v, %v", failed, err, tc.failed, tc.err)
			}
			if len(fn.got) != 1 || len(fn.got[0].Records) != 3 {
				t.Fatalf("function given %+v, want the event once", fn.got)
			}
		})
	}
}

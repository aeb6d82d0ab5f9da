package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
)

// TestPoisonEventUnderTheEmulator: valid events whose partition folder no
// file system can make are put in a stream among generated ones and
// consumed by the function under the Lambda runtime interface emulator.
// No batch fails (a failing batch would be retried and block its shard):
// the poison events are dead letters in the queue, every other event lands
// once.
func TestPoisonEventUnderTheEmulator(t *testing.T) {
	w := newWorld(t)
	opts := gen.Options{Events: 3000, Seed: 71, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	w.gen(opts, "--to", "kinesis://events", "--create-shards", "2")
	poison := []string{
		`{"event_uuid":"p1","event_name":"` + strings.Repeat("%", 82) + `:x","created_at":1793491200}`,
		`{"event_uuid":"p2","event_name":"` + strings.Repeat(`\u0001`, 82) + `:x","created_at":1793491200}`,
		`{"event_uuid":"p3","event_name":"` + strings.Repeat("/", 128) + `:x","created_at":1793491200}`,
	}
	for i, p := range poison {
		_, err := w.kapi.PutRecord(context.Background(), &awskinesis.PutRecordInput{
			StreamName: aws.String("events"), PartitionKey: aws.String(strings.Repeat("k", i+1)), Data: []byte(p),
		})
		if err != nil {
			t.Fatal(err)
		}
		x.bad[p] = event.ReasonPartitionTooLong
	}
	out := w.consume("--max-retries", "2")
	if m := regexp.MustCompile(`\((\d+) invocations, (\d+) retries\)\non-failure +(\d+)`).FindStringSubmatch(out); m == nil || m[2] != "0" || m[3] != "0" {
		t.Errorf("a batch failed (retries, on-failure): %q", out)
	}
	events, _ := w.lakeEvents()
	w.check(x, events, w.deadLetters())
}

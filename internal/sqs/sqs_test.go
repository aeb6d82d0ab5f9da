package sqs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/testservers"
)

func TestSendable(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":"Zoë 北京"}`: true, "tab\tnew\nline\r": true, "emoji 😀": true,
		"nul \x00": false, "bell \x07": false, "bad \xff utf8": false, "\ufffe": false,
	} {
		if got := Sendable([]byte(body)); got != want {
			t.Errorf("Sendable(%q) = %v, want %v", body, got, want)
		}
	}
}

// TestQueueAgainstFauxqs sends more than one batch, receives, deletes, and
// reports what the server refuses instead of failing everything.
func TestQueueAgainstFauxqs(t *testing.T) {
	testservers.Credentials(t)
	ctx := context.Background()
	api, err := NewAPI(ctx, Options{Endpoint: testservers.Fauxqs(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateQueue(ctx, api, "q"); err != nil {
		t.Fatal(err)
	}
	q, err := OpenWith(ctx, api, "sqs://q")
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for i := range 25 {
		bodies = append(bodies, []byte{byte('a' + i)})
	}
	bodies[7] = []byte("nul \x00 refused")
	err = q.SendAll(ctx, bodies)
	var ref *RefusedError
	if !errors.As(err, &ref) || len(ref.Indexes) != 1 || ref.Indexes[0] != 7 {
		t.Fatalf("SendAll err = %v, want message 7 refused", err)
	}
	got := map[string]bool{}
	for len(got) < 24 {
		msgs, err := q.Receive(ctx, 10, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatalf("received %d of 24 messages", len(got))
		}
		var handles []string
		for _, m := range msgs {
			got[string(m.Body)] = true
			handles = append(handles, m.ReceiptHandle)
		}
		if err := q.Delete(ctx, handles); err != nil {
			t.Fatal(err)
		}
	}
	if v, f, err := q.Depth(ctx); err != nil || v+f != 0 {
		t.Fatalf("queue not empty after deletes: %d %d %v", v, f, err)
	}
	if _, err := OpenWith(ctx, api, "sqs://"); err == nil {
		t.Error("sqs:// accepted")
	}
}

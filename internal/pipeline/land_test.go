package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

func ev(uuid, name string) []byte {
	return []byte(fmt.Sprintf(`{"event_uuid":"%s","event_name":"%s","created_at":1710670530}`, uuid, name))
}

func TestLandBatch(t *testing.T) {
	ctx := context.Background()
	store := memStore(t)
	w := newWriter(t, store, &lake.WriterOptions{Compression: lake.None})
	recs := []Record{
		{Data: ev("a", "pay:x"), Source: "shard-1:100"},
		{Data: []byte("not json"), Source: "shard-1:101"},
		{Data: ev("b", "auth:y"), Source: "shard-1:102"},
		{Data: ev("a", "pay:x"), Source: "shard-1:103"}, // duplicate delivery
		{Data: []byte(string(ev("c", "pay:z")) + "\n" + string(ev("d", "auth:y")) + "\n{bad\n"), Source: "msg-1", Lines: true},
	}
	name := lake.Name{Source: "shard-1", First: "100", Last: "104"}
	res, err := Land(ctx, w, name, recs, &LandOptions{KeepDeadLetters: true})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	if st.In != 7 || st.Written != 4 || st.Duplicates != 1 || st.DeadLetters != 2 || len(res.DeadLetters) != 2 || len(res.Failed) != 0 {
		t.Fatalf("stats %+v, dead %d, failed %v", st, len(res.DeadLetters), res.Failed)
	}
	if res.DeadLetters[0].Source != "shard-1:101" || res.DeadLetters[1].Source != "msg-1:3" || res.DeadLetters[1].Reason != string(event.ReasonInvalidJSON) {
		t.Errorf("dead letters %+v", res.DeadLetters)
	}
	// The same batch again adds nothing.
	again, err := Land(ctx, w, name, recs, &LandOptions{KeepDeadLetters: true})
	if err != nil || again.Stats.Objects != 0 || again.Stats.AlreadyPresent != 4 {
		t.Fatalf("retry: %+v %v", again.Stats, err)
	}
	var keys []string
	for ent, err := range store.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		k := ent.Key
		keys = append(keys, k)
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "event_type=auth/created_date=2024-03-17/shard-1-100-104-") {
		t.Errorf("keys %v", keys)
	}
}

type failDir struct {
	lake.Store
	dir string
}

func (f failDir) Create(ctx context.Context, key string, body ...[]byte) error {
	if strings.HasPrefix(key, f.dir) {
		return errors.New("503 SlowDown")
	}
	return f.Store.Create(ctx, key, body...)
}

func TestLandReportsRecordsOfFailedObjects(t *testing.T) {
	ctx := context.Background()
	mem := memStore(t)
	w := newWriter(t, failDir{mem, "event_type=auth/"}, nil)
	recs := []Record{
		{Data: ev("a", "pay:x")}, {Data: ev("b", "auth:y")}, {Data: ev("c", "pay:x")}, {Data: ev("d", "auth:y")},
	}
	res, err := Land(ctx, w, lake.Name{Source: "s", First: "1", Last: "4"}, recs, nil)
	if err == nil || !strings.Contains(err.Error(), "SlowDown") {
		t.Fatalf("err = %v", err)
	}
	if fmt.Sprint(res.Failed) != "[1 3]" || res.Stats.Unwritten != 2 || res.Stats.Written != 2 {
		t.Fatalf("failed %v, stats %+v", res.Failed, res.Stats)
	}
}

func TestSplitEvents(t *testing.T) {
	pretty := "{\n  \"event_uuid\": \"u\",\n  \"event_name\": \"a:b\",\n  \"created_at\": 1\n}\n"
	for _, tc := range []struct {
		body string
		n    int
	}{
		{`{"a":1}`, 1},
		{`{"a":1}` + "\n", 1},
		{`{"a":1}` + "\n" + `{"b":2}`, 2},
		{`{"a":1}` + "\r\n" + `{"b":2}` + "\r\n", 2},
		{pretty, 1},
		{"junk\n{\"a\":1}", 1},
	} {
		if got := SplitEvents([]byte(tc.body)); len(got) != tc.n {
			t.Errorf("SplitEvents(%q) = %d events, want %d", tc.body, len(got), tc.n)
		}
	}
}

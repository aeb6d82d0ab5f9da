package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// endpoint is a fake invocation endpoint answering with answer(body).
func endpoint(t *testing.T, answer func(body []byte) (int, string)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code, out := answer(body)
		w.WriteHeader(code)
		io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestInvokeReadsTheFunctionsAnswer(t *testing.T) {
	ctx := context.Background()
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "x"}, {MessageId: "m2", Body: "y"}}}
	for _, tc := range []struct {
		name    string
		code    int
		answer  string
		failed  []string
		wantErr string
	}{
		{"all done", 200, `{"batchItemFailures":[]}`, nil, ""},
		{"partial", 200, `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, []string{"m2"}, ""},
		{"function error", 200, `{"errorType":"Runtime.ExitError","errorMessage":"exit status 2"}`, nil, "function error Runtime.ExitError: exit status 2"},
		{"HTTP error", 502, `bad gateway`, nil, "HTTP 502: bad gateway"},
		{"not a response", 200, `"hello"`, nil, "not a batch response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got events.SQSEvent
			url := endpoint(t, func(body []byte) (int, string) {
				if err := json.Unmarshal(body, &got); err != nil {
					return 400, err.Error()
				}
				return tc.code, tc.answer
			})
			c, err := New(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.SQS(ctx, ev)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("SQS = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") || len(got.Records) != 2 || got.Records[1].Body != "y" {
				t.Errorf("failed %v, event posted %+v", failed, got)
			}
		})
	}
}

func TestFunctionErrorIsTyped(t *testing.T) {
	url := endpoint(t, func([]byte) (int, string) { return 200, `{"errorType":"Sandbox.Timedout","errorMessage":"late"}` })
	c, err := New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Kinesis(context.Background(), events.KinesisEvent{})
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" || fe.Message != "late" {
		t.Fatalf("Kinesis = %v, want a *FunctionError", err)
	}
}

// TestOneInvocationAtATime: the endpoint is one execution environment.
func TestOneInvocationAtATime(t *testing.T) {
	var inside, most atomic.Int32
	url := endpoint(t, func([]byte) (int, string) {
		n := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		return 200, `{}`
	})
	c, err := New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.Kinesis(context.Background(), events.KinesisEvent{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d invocations at once, want 1", most.Load())
	}
}

func TestNewNeedsAURL(t *testing.T) {
	if _, err := New("", nil); err == nil {
		t.Error("an empty URL was accepted")
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url, &Options{HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQS(context.Background(), events.SQSEvent{}); err == nil || !strings.Contains(err.Error(), "invoke:") {
		t.Fatalf("SQS to a closed endpoint = %v, want an invoke error", err)
	}
}

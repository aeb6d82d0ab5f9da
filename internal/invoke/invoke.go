// Package invoke is a client of a Lambda function running elsewhere: it
// posts events to the function's invocation URL (the Lambda runtime
// interface emulator, or any endpoint that takes an Invoke request body and
// answers with the function's result) and reads the answer. The local
// event source mappings (run --from kinesis:// or sqs:// --invoke) use it
// to run the real function.
package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Options configure a Client; nil or zero values are defaults.
type Options struct {
	// HTTPClient makes the requests; default: one with a 15-minute timeout,
	// the longest a Lambda invocation runs.
	HTTPClient *http.Client
}

// Client invokes the function at one URL, one invocation at a time: an
// endpoint such as the runtime interface emulator is one execution
// environment, as a Lambda function with a reserved concurrency of 1.
type Client struct {
	url  string
	http *http.Client
	mu   sync.Mutex
}

// New returns a client of the function whose invocation URL is url.
func New(url string, o *Options) (*Client, error) {
	if url == "" {
		return nil, errors.New("invoke: no invocation URL")
	}
	c := &Client{url: url}
	if o != nil {
		c.http = o.HTTPClient
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Minute}
	}
	return c, nil
}

// FunctionError is an error the function returned (its answer has an
// errorType), as opposed to a failure to reach it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return "function error " + e.Type + ": " + e.Message }

// Invoke posts event, as JSON, and decodes the function's answer into
// resp. A function error is a *FunctionError; an answer that is neither
// an error nor resp's JSON is an error too.
func (c *Client) Invoke(ctx context.Context, event, resp any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	var fnErr FunctionError
	if json.Unmarshal(out, &fnErr) == nil && fnErr.Type != "" {
		return &fnErr
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke: HTTP %d: %s", res.StatusCode, bytes.TrimSpace(out))
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return fmt.Errorf("invoke: answer is not a batch response: %q", out)
	}
	return nil
}

// Kinesis invokes the function with a Kinesis event.
func (c *Client) Kinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	var resp events.KinesisEventResponse
	err := c.Invoke(ctx, ev, &resp)
	return resp, err
}

// SQS invokes the function with an SQS event.
func (c *Client) SQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	err := c.Invoke(ctx, ev, &resp)
	return resp, err
}

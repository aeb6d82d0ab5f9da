// Package sqs talks to Amazon SQS: it sends messages in batches (dead
// letters, generated events), and receives and deletes them for the local
// consumer of the ingestion queue (Poller), which hands batches to a
// Lambda function's SQS handler (FunctionHandler). It is the only package
// that imports the SQS SDK.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/eventlake/eventlake/internal/awsconfig"
	"github.com/eventlake/eventlake/internal/retry"
)

// Limits of SendMessageBatch.
const (
	MaxBatchEntries = 10
	// MaxBatchBytes is the total payload of one SendMessageBatch call (and the
	// largest message) that every SQS deployment accepts; queues may allow up
	// to 1 MiB since 2025.
	MaxBatchBytes = 256 << 10
)

// Client is an SQS client for one queue.
type Client struct {
	api *sqs.Client
	url string
}

// Options say how to reach SQS. Empty fields fall back to the AWS
// configuration (AWS_REGION, AWS_ENDPOINT_URL_SQS, ...).
type Options struct {
	Endpoint string
	Region   string
}

// NewAPI returns an SQS API client.
func NewAPI(ctx context.Context, opts Options) (*sqs.Client, error) {
	cfg, err := awsconfig.Load(ctx, opts.Region)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	}), nil
}

// Open returns a client for a queue given as a queue URL (https://…) or as
// sqs://NAME, which is looked up with GetQueueUrl.
func Open(ctx context.Context, queue string, opts Options) (*Client, error) {
	api, err := NewAPI(ctx, opts)
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, api, queue)
}

// OpenWith is Open with an existing API client.
func OpenWith(ctx context.Context, api *sqs.Client, queue string) (*Client, error) {
	if name, ok := strings.CutPrefix(queue, "sqs://"); ok {
		if name == "" || strings.ContainsAny(name, "/?#") {
			return nil, fmt.Errorf("bad queue %q: want sqs://NAME or a queue URL", queue)
		}
		out, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", name, err)
		}
		return &Client{api: api, url: aws.ToString(out.QueueUrl)}, nil
	}
	u, err := url.Parse(queue)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bad queue %q: want sqs://NAME or a queue URL", queue)
	}
	return &Client{api: api, url: queue}, nil
}

// URL is the queue URL.
func (c *Client) URL() string { return c.url }

// RefusedError lists the messages the queue refused as invalid (a sender
// fault, e.g. characters it does not accept); all others were sent.
type RefusedError struct {
	Indexes []int // positions in the bodies given to SendAll
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("sqs: %d messages refused: %s", len(e.Indexes), e.Reason)
}

// SendAll sends every body, in SendMessageBatch calls of at most 10
// messages and MaxBatchBytes, retrying failed entries with backoff. Bodies
// must be at most MaxBatchBytes each. Messages the queue refuses as invalid
// are reported in a *RefusedError after the rest are sent.
func (c *Client) SendAll(ctx context.Context, bodies [][]byte) error {
	var refused RefusedError
	for start := 0; start < len(bodies); {
		end, size := start, 0
		for end < len(bodies) && end-start < MaxBatchEntries && size+len(bodies[end]) <= MaxBatchBytes {
			size += len(bodies[end])
			end++
		}
		if end == start {
			return fmt.Errorf("sqs: message of %d bytes is larger than %d", len(bodies[start]), MaxBatchBytes)
		}
		bad, err := c.sendBatch(ctx, bodies[start:end])
		if err != nil {
			return err
		}
		for _, b := range bad {
			refused.Indexes = append(refused.Indexes, start+b.index)
			refused.Reason = b.reason
		}
		start = end
	}
	if len(refused.Indexes) > 0 {
		return &refused
	}
	return nil
}

type badEntry struct {
	index  int
	reason string
}

func (c *Client) sendBatch(ctx context.Context, bodies [][]byte) ([]badEntry, error) {
	var bad []badEntry
	pending := make(map[string][]byte, len(bodies))
	for i, b := range bodies {
		pending[strconv.Itoa(i)] = b
	}
	for attempt := 0; ; attempt++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, b := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(b))})
		}
		out, err := c.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(c.url), Entries: entries})
		if err != nil {
			if len(pending) > 1 && strings.Contains(err.Error(), "InvalidMessageContents") {
				// Some servers refuse the whole batch for one bad message:
				// send one by one to find it.
				for id, b := range pending {
					more, err := c.sendBatch(ctx, [][]byte{b})
					if err != nil {
						return nil, err
					}
					for _, m := range more {
						i, _ := strconv.Atoi(id)
						bad = append(bad, badEntry{i, m.reason})
					}
				}
				return bad, nil
			}
			if len(pending) == 1 && strings.Contains(err.Error(), "InvalidMessageContents") {
				for id := range pending {
					i, _ := strconv.Atoi(id)
					bad = append(bad, badEntry{i, err.Error()})
				}
				return bad, nil
			}
			return nil, fmt.Errorf("sqs: send to %s: %w", c.url, err)
		}
		for _, s := range out.Successful {
			delete(pending, aws.ToString(s.Id))
		}
		for _, f := range out.Failed {
			if f.SenderFault {
				id := aws.ToString(f.Id)
				i, _ := strconv.Atoi(id)
				bad = append(bad, badEntry{i, aws.ToString(f.Code) + ": " + aws.ToString(f.Message)})
				delete(pending, id)
			}
		}
		if len(pending) == 0 {
			return bad, nil
		}
		if attempt >= 8 {
			return nil, fmt.Errorf("sqs: %d messages still failing after %d attempts", len(pending), attempt+1)
		}
		if err := retry.Wait(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// Sendable reports whether SQS accepts body as a message: valid UTF-8 with
// only #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF.
func Sendable(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	for _, r := range string(body) {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// Message is a received message.
type Message struct {
	ID, ReceiptHandle string
	Body              []byte
	SentAt            time.Time
	ReceiveCount      int
}

// Receive long-polls for up to max (≤ 10) messages.
func (c *Client) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error) {
	out, err := c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(c.url),
		MaxNumberOfMessages:         int32(min(max, 10)),
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp, types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("sqs: receive from %s: %w", c.url, err)
	}
	msgs := make([]Message, len(out.Messages))
	for i, m := range out.Messages {
		msgs[i] = Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: []byte(aws.ToString(m.Body))}
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			msgs[i].SentAt = time.UnixMilli(ms)
		}
		msgs[i].ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	}
	return msgs, nil
}

// Delete deletes messages by receipt handle, in batches of 10.
func (c *Client) Delete(ctx context.Context, handles []string) error {
	for start := 0; start < len(handles); start += MaxBatchEntries {
		end := min(start+MaxBatchEntries, len(handles))
		entries := make([]types.DeleteMessageBatchRequestEntry, 0, end-start)
		for i, h := range handles[start:end] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)})
		}
		out, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.url), Entries: entries})
		if err != nil {
			return fmt.Errorf("sqs: delete from %s: %w", c.url, err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("sqs: %d deletes failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

// Release makes messages visible again now, for a retry.
func (c *Client) Release(ctx context.Context, handles []string) error {
	var errs []error
	for _, h := range handles {
		_, err := c.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(c.url), ReceiptHandle: aws.String(h), VisibilityTimeout: 0})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Depth returns the approximate number of visible and in-flight messages.
func (c *Client) Depth(ctx context.Context) (visible, inFlight int, err error) {
	out, err := c.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(c.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// CreateQueue creates a queue (for tests and local setups) and returns its URL.
func CreateQueue(ctx context.Context, api *sqs.Client, name string) (string, error) {
	out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// Package retry holds the one backoff policy of eventlake's callers of AWS
// APIs (Kinesis PutRecords and GetRecords, SQS sends and redeliveries):
// exponential from 50 ms, capped at 5 s, with full jitter, and a sleep that
// ends when its context does.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Base and Cap bound the delays: attempt n waits a uniformly random time in
// [0, min(Base<<n, Cap)] ("full jitter", which spreads retries of many
// callers that failed together).
const (
	Base = 50 * time.Millisecond
	Cap  = 5 * time.Second
)

// Delay is the wait before retry attempt+1 (attempt counts from 0).
func Delay(attempt int) time.Duration {
	attempt = min(max(attempt, 0), 16) // 50 ms << 7 already passes Cap
	d := min(Base<<attempt, Cap)
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Sleep waits d, or until ctx is done, whichever comes first; it returns
// ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait sleeps Delay(attempt), or until ctx is done.
func Wait(ctx context.Context, attempt int) error { return Sleep(ctx, Delay(attempt)) }

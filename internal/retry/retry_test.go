package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayIsJitteredBelowAnExponentialCap(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		max     time.Duration
	}{{-1, Base}, {0, Base}, {1, 2 * Base}, {3, 8 * Base}, {6, 64 * Base}, {7, Cap}, {30, Cap}, {1 << 20, Cap}} {
		var largest time.Duration
		seen := map[time.Duration]bool{}
		for range 2000 {
			d := Delay(tc.attempt)
			if d < 0 || d > tc.max {
				t.Fatalf("Delay(%d) = %v, want within [0, %v]", tc.attempt, d, tc.max)
			}
			largest = max(largest, d)
			seen[d] = true
		}
		// Full jitter: spread over the range, not a constant.
		if largest < tc.max/2 || len(seen) < 100 {
			t.Errorf("Delay(%d): largest %v of %v, %d distinct values: not jittered over the range", tc.attempt, largest, tc.max, len(seen))
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Minute {
		t.Fatal("Sleep did not end with its context")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
}

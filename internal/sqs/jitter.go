package sqs

import "math/rand/v2"

// jitter returns a uniformly random duration in [0, d] ("full jitter").
func jitter(d int64) int64 { return rand.Int64N(d + 1) }

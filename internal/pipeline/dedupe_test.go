package pipeline

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func key(i uint64) (k [16]byte) {
	binary.LittleEndian.PutUint64(k[:8], i*0x9E3779B97F4A7C15)
	binary.LittleEndian.PutUint64(k[8:], i)
	return k
}

// TestDedupeWindow: a key repeats as a duplicate within its batch and the
// next, and is new again two batches later; the table grows and reuses
// expired slots without losing live keys.
func TestDedupeWindow(t *testing.T) {
	d := newDedupe()
	const perBatch = 200_000 // more than the initial table holds: forces growth
	for b := uint64(0); b < 6; b++ {
		for i := range uint64(perBatch) {
			k := key(b*perBatch + i)
			if !d.add(k) {
				t.Fatalf("batch %d: new key %d reported as seen", b, i)
			}
			if d.add(k) {
				t.Fatalf("batch %d: key %d not seen right after adding", b, i)
			}
		}
		if b > 0 {
			for _, i := range []uint64{0, 1, perBatch / 2, perBatch - 1} {
				if d.add(key((b-1)*perBatch + i)) {
					t.Fatalf("batch %d: key %d of the previous batch forgotten", b, i)
				}
			}
		}
		if b > 1 {
			if !d.add(key((b-2)*perBatch + 7)) {
				t.Fatalf("batch %d: key of two batches ago still remembered", b)
			}
		}
		d.rotate()
	}
	if len(d.slots) > 4<<20 {
		t.Errorf("table grew to %d slots for a window of %d keys", len(d.slots), 2*perBatch)
	}
}

// TestDedupeAgainstMap compares with a map over random keys and batches.
func TestDedupeAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := newDedupe()
	cur, prev := map[[16]byte]bool{}, map[[16]byte]bool{}
	for range 300_000 {
		if r.IntN(50_000) == 0 {
			d.rotate()
			prev, cur = cur, map[[16]byte]bool{}
		}
		k := key(uint64(r.IntN(100_000)))
		want := !cur[k] && !prev[k]
		if want {
			cur[k] = true
		}
		if got := d.add(k); got != want {
			t.Fatalf("add = %v, want %v", got, want)
		}
	}
}

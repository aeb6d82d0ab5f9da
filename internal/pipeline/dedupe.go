package pipeline

import "encoding/binary"

// dedupe remembers event_uuid hashes of the current and the previous batch.
// A 96-bit hash per event: a false match among a million events has
// probability ~1e-17. It is an open-addressing table of 16-byte slots; slots
// of older batches are reused in place, so the table is rebuilt only when it
// must grow.
type dedupe struct {
	slots []dslot
	used  int    // slots ever filled (live or expired)
	gen   uint32 // the current batch's generation, from 2 up
}

type dslot struct {
	h1  uint64
	h2  uint32
	gen uint32 // 0: never used
}

func newDedupe() dedupe {
	return dedupe{slots: make([]dslot, 1<<18), gen: 2}
}

// add reports whether k is new, remembering it.
func (d *dedupe) add(k [16]byte) bool {
	h1 := binary.LittleEndian.Uint64(k[:8])
	h2 := binary.LittleEndian.Uint32(k[8:12])
	mask := uint64(len(d.slots) - 1)
	reuse := -1
	for i := h1 & mask; ; i = (i + 1) & mask {
		s := &d.slots[i]
		if s.gen == 0 {
			if reuse >= 0 {
				d.slots[reuse] = dslot{h1: h1, h2: h2, gen: d.gen}
				return true
			}
			*s = dslot{h1: h1, h2: h2, gen: d.gen}
			d.used++
			if d.used*2 > len(d.slots) {
				d.rebuild()
			}
			return true
		}
		live := s.gen+1 >= d.gen
		if live && s.h1 == h1 && s.h2 == h2 {
			return false
		}
		if !live && reuse < 0 {
			reuse = int(i)
		}
	}
}

// rotate starts a new batch: entries older than the previous batch expire.
func (d *dedupe) rotate() { d.gen++ }

// rebuild re-inserts the live entries into a table with at least four
// slots per live entry.
func (d *dedupe) rebuild() {
	live := 0
	for _, s := range d.slots {
		if s.gen != 0 && s.gen+1 >= d.gen {
			live++
		}
	}
	n := len(d.slots)
	for live*4 > n {
		n *= 2
	}
	old := d.slots
	d.slots = make([]dslot, n)
	d.used = 0
	mask := uint64(n - 1)
	for _, s := range old {
		if s.gen == 0 || s.gen+1 < d.gen {
			continue
		}
		i := s.h1 & mask
		for d.slots[i].gen != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = s
		d.used++
	}
}

// Package laketest wraps a lake store to inject the faults a real one
// meets: a full disk, a permission refused, a name too long, a file where a
// folder should be, a failure after some objects. Errors look as the os
// package returns them, so callers see what they would see in production.
package laketest

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/eventlake/eventlake/internal/lake"
)

// Fault makes some creates fail.
type Fault struct {
	// Match selects the creates it applies to: keys containing Match;
	// empty matches every key.
	Match string
	// After lets this many matching creates succeed before the fault
	// starts.
	After int
	// Err is the cause as the operating system gives it: syscall.ENOSPC
	// (disk full), EACCES (permission refused), ENAMETOOLONG, ENOTDIR (a
	// file where a partition folder should be). It is returned inside an
	// *fs.PathError, as the os package returns it.
	Err error
}

// Store is a lake.ReadWriteStore whose creates fail as its faults say. Reads,
// lists and deletes pass through.
type Store struct {
	lake.ReadWriteStore
	mu      sync.Mutex
	faults  []Fault
	seen    []int // matching creates so far, per fault
	created int
	failed  int
}

var _ lake.ReadWriteStore = (*Store)(nil)

// New wraps r. With no faults it only counts.
func New(r lake.ReadWriteStore, faults ...Fault) *Store {
	return &Store{ReadWriteStore: r, faults: faults, seen: make([]int, len(faults))}
}

// Create fails with the first fault that applies, else creates.
func (s *Store) Create(ctx context.Context, key string, body ...[]byte) error {
	if err := s.fault(key); err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	err := s.ReadWriteStore.Create(ctx, key, body...)
	if err == nil {
		s.mu.Lock()
		s.created++
		s.mu.Unlock()
	}
	return err
}

func (s *Store) fault(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.Contains(key, f.Match) {
			continue
		}
		s.seen[i]++
		if s.seen[i] > f.After {
			s.failed++
			return &fs.PathError{Op: "open", Path: key, Err: f.Err}
		}
	}
	return nil
}

// Counts are the creates that succeeded and those failed by a fault.
func (s *Store) Counts() (created, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created, s.failed
}

// Heal removes every fault: later creates pass through.
func (s *Store) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.seen = nil, nil
}

package pipeline

import (
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// Stats count what a run did. In = Written + AlreadyPresent + DeadLetters +
// Duplicates + Unwritten.
type Stats struct {
	Lines          int64 // lines read, blank ones included
	Blank          int64 // lines with only whitespace: not events, skipped
	In             int64 // events read (non-blank lines)
	Written        int64 // events in objects this run created
	AlreadyPresent int64 // events in objects that were already in the lake (a re-run)
	DeadLetters    int64
	DeadByReason   map[event.Reason]int64
	Duplicates     int64 // repeated event_uuid, written once
	Unwritten      int64 // read but not written because the destination failed
	Batches        int64
	Objects        int64 // objects created (partitions and dead letters)
	ObjectsPresent int64 // objects found already there
	ObjectsFailed  int64 // objects the destination failed to create
	Partitions     int   // distinct partitions written to
	BytesIn        int64 // input bytes
	BytesOut       int64 // bytes stored (compressed)
	Elapsed        time.Duration
	Interrupted    bool       // stopped by the context (a signal) after flushing
	Leftovers      lake.Swept // temporary files of crashed runs removed from the folders written
}

func (s Stats) clone() Stats {
	m := make(map[event.Reason]int64, len(s.DeadByReason))
	for k, v := range s.DeadByReason {
		m[k] = v
	}
	s.DeadByReason = m
	return s
}

// tally counts the outcome of a batch's written objects, one object at a
// time, so that after a partial failure the counts are what the lake holds:
// events of created objects are written, of objects already there present,
// of failed ones unwritten; dead letters count as such once stored.
// Partition folders holding events are added to partitions.
func (s *Stats) tally(objs []lake.Object, partitions map[string]struct{}) {
	for _, o := range objs {
		n := int64(o.Events)
		switch {
		case o.Err != nil:
			s.ObjectsFailed++
			s.Unwritten += n
			continue
		case o.Existed:
			s.ObjectsPresent++
		default:
			s.Objects++
			s.BytesOut += int64(o.Size)
		}
		switch {
		case o.Dead:
			s.DeadLetters += n
			s.DeadByReason[event.Reason(lake.DeadLetterReason(o.Dir))] += n
		case o.Existed:
			s.AlreadyPresent += n
			partitions[o.Dir] = struct{}{}
		default:
			s.Written += n
			partitions[o.Dir] = struct{}{}
		}
	}
}

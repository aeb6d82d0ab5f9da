package pipeline

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"strconv"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// This file is the landing core: the one place that decides what a line of
// input becomes in the lake. The CLI pipeline (Runner.Run, many lines per
// chunk, on every core) and the functions (Land, one delivered batch) both
// call core.line and core.appendLine; nothing else classifies a line, names a
// dead-letter folder or builds a dead-letter record. TestOneLandingRule feeds
// both entry points the same input and compares the bytes they store.

// recKind says what a line turned out to be.
type recKind uint8

const (
	kindEvent recKind = iota
	kindDead
	kindBlank
)

// verdict is what the landing rules made of one line.
type verdict struct {
	kind recKind
	// dir is the object folder: the partition of an event, or the
	// dead-letter folder of a refused one (lake.DeadLetterDir).
	dir string
	// info is what the rules found in an event (its event_uuid, typed
	// columns); valid until the core's next line.
	info event.Info
	// dead is a refused line's dead-letter record.
	dead deadletter.Record
	// reason is why a line was refused.
	reason event.Reason
}

// core applies every rule a line must pass to land: the event rules, then
// the layout's (its partition folder can be made). Not safe for concurrent
// use: each worker has its own.
type core struct {
	enr     *event.Enricher
	dirs    dirCache
	maxSize int
}

func newCore(l lake.Layout, opts event.Options) *core {
	if opts.MaxSize <= 0 {
		opts.MaxSize = event.DefaultMaxSize
	}
	return &core{enr: event.NewEnricher(&opts), dirs: newDirCache(l), maxSize: opts.MaxSize}
}

// line classifies raw, one line of input without its newline. size is the
// line's true length: more than len(raw) when only its start was kept, and
// then it is too large whatever it holds. A refused line's dead letter names
// it src, or "src:n" when n > 0 (its line number in a file or message).
func (c *core) line(raw []byte, size int64, src string, n int64) verdict {
	var err error
	var info event.Info
	var dir string
	if size > int64(len(raw)) {
		err = event.TooLarge(size, c.maxSize)
	} else if info, err = c.enr.Check(raw); err == nil {
		dir, err = c.dirs.dir(info)
	}
	switch {
	case err == nil:
		return verdict{kind: kindEvent, dir: dir, info: info}
	case errors.Is(err, event.ErrBlank):
		return verdict{kind: kindBlank}
	}
	ee := refusal(err)
	if n > 0 {
		src += ":" + strconv.FormatInt(n, 10)
	}
	if ee.Reason == event.ReasonTooLarge && len(raw) > c.maxSize {
		raw = raw[:c.maxSize] // the rest is never held
	}
	return verdict{
		kind: kindDead, dir: lake.DeadLetterDir(string(ee.Reason)), reason: ee.Reason,
		dead: deadletter.New(string(ee.Reason), ee.Msg, src, raw, size),
	}
}

// appendLine appends what the lake stores for v, with its newline: the
// enriched event (the line core.line accepted last) or the dead letter.
func (c *core) appendLine(dst []byte, v *verdict) []byte {
	switch v.kind {
	case kindEvent:
		dst = c.enr.AppendEnriched(dst)
	case kindDead:
		dst = deadletter.Append(dst, v.dead)
	default:
		return dst
	}
	return append(dst, '\n')
}

// refusal is the *event.Error in err (every refusal is one).
func refusal(err error) *event.Error {
	var ee *event.Error
	if !errors.As(err, &ee) {
		ee = &event.Error{Reason: event.ReasonInvalidJSON, Msg: err.Error()}
	}
	return ee
}

// lineCounts count lines by kind, the same way for every entry point.
type lineCounts struct {
	lines, blank, in int64
}

func (lc *lineCounts) add(k recKind) {
	lc.lines++
	if k == kindBlank {
		lc.blank++
	} else {
		lc.in++
	}
}

// addTo adds the counts to s.
func (lc lineCounts) addTo(s *Stats) {
	s.Lines += lc.lines
	s.Blank += lc.blank
	s.In += lc.in
}

// dirCache finds the partition folder of an event, caching folders by
// event_type and then time bucket, so that most events find theirs without
// building and hashing the path. Not safe for concurrent use.
type dirCache struct {
	layout  lake.Layout
	scratch []byte
	dirs    map[string][]bucketDir
}

type bucketDir struct {
	bucket int64
	dir    string
}

func newDirCache(l lake.Layout) dirCache {
	return dirCache{layout: l, dirs: map[string][]bucketDir{}}
}

// dir returns the partition folder of info, or the layout's refusal.
// Refused event types are not cached: they are rare.
func (c *dirCache) dir(info event.Info) (string, error) {
	bucket := c.layout.Bucket(info)
	list := c.dirs[string(info.Type)]
	for _, bd := range list {
		if bd.bucket == bucket {
			return bd.dir, nil
		}
	}
	if err := c.layout.Check(info); err != nil {
		return "", err
	}
	c.scratch = c.layout.AppendPath(c.scratch[:0], info)
	dir := string(c.scratch)
	if len(list) >= 64 {
		list = list[:0]
	}
	if len(c.dirs) >= 1<<16 {
		clear(c.dirs)
	}
	c.dirs[string(info.Type)] = append(list, bucketDir{bucket, dir})
	return dir, nil
}

// uuidKey is the 128-bit de-duplication key of an event_uuid.
func uuidKey(seeds *[2]maphash.Seed, uuid []byte) (id [16]byte) {
	binary.LittleEndian.PutUint64(id[:8], maphash.Bytes(seeds[0], uuid))
	binary.LittleEndian.PutUint64(id[8:], maphash.Bytes(seeds[1], uuid))
	return id
}

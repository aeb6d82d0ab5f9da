// Package compact merges the small objects of each lake partition into few
// large ones and removes duplicate events, safely: new objects are written
// and verified before a manifest switches readers to them, and old objects
// are deleted only after that, so a crash at any step, or two compactions at
// once, never make a reader see an event twice or miss one. The readers'
// rule and the manifest live in package lake; the protocol is written up in
// docs/compaction.md.
package compact

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// Options tune a compaction. The zero value compacts every partition with
// the defaults below.
type Options struct {
	// Prefix limits compaction to the partitions under it, e.g.
	// "event_type=payment/" or "event_type=payment/created_date=2026-11-27/"
	// (checked and completed by lake.PartitionPrefix).
	Prefix string
	// OlderThan leaves alone objects written less than this long ago.
	OlderThan time.Duration
	// TargetSize is the stored size of the objects written; 0 means 128 MiB.
	TargetSize int64
	// Format and Compression of the objects written; nil means the most
	// common among each round's inputs (so a lake stays one format, as its
	// Athena table needs).
	Format      *lake.Format
	Compression *lake.Compression
	// MaxRoundBytes bounds the uncompressed bytes of events held in memory
	// at once, across the partitions compacted at once (each gets its
	// share); a partition with more is compacted in several rounds. The
	// heap peaks at about twice this. 0 means 512 MiB.
	MaxRoundBytes int64
	// Grace is how long superseded objects, older manifests and abandoned
	// outputs are kept before they are deleted, so that a reader that
	// listed before a commit can still read what it listed.
	Grace time.Duration
	// Concurrency is how many partitions are compacted at once; 0 means 4.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called after each partition, finished or not
	// (Partition.Err).
	Progress func(Partition)

	// step, when set, is called before every step that changes the store;
	// an error stops the compaction there, as a crash would. For tests.
	step func(name string) error
}

// Partition is what happened to one partition.
type Partition struct {
	Partition     string `json:",omitempty"`
	Rounds        int    // manifests committed
	InputObjects  int    // objects merged
	InputBytes    int64  // their stored bytes
	OutputObjects int    // objects written
	OutputBytes   int64  // their stored bytes
	Events        int64  // events written
	Recompacted   int64  // of them, events merged again from compacted objects of earlier runs
	Duplicates    int64  // events dropped: their event_uuid was already kept
	Deleted       int    // superseded objects, old manifests and abandoned outputs deleted
	Pending       int    // superseded objects kept until the grace period ends
	Young         int    // objects left alone: written less than OlderThan before the run began, or during it
	Conflicts     int    // commits lost to another compaction (then planned again)
	Err           error  `json:"-"` // why the partition was not finished, if it was not
}

// Stats sums the partitions.
type Stats struct {
	Partitions int
	Partition  // totals; Partition.Partition is empty
	// Leftovers are the temporary files of crashed writers removed from a
	// local folder lake (lake.Sweeper).
	Leftovers lake.Swept
}

func (s *Stats) add(p Partition) {
	s.Partitions++
	s.Rounds += p.Rounds
	s.InputObjects += p.InputObjects
	s.InputBytes += p.InputBytes
	s.OutputObjects += p.OutputObjects
	s.OutputBytes += p.OutputBytes
	s.Events += p.Events
	s.Recompacted += p.Recompacted
	s.Duplicates += p.Duplicates
	s.Deleted += p.Deleted
	s.Pending += p.Pending
	s.Young += p.Young
	s.Conflicts += p.Conflicts
}

// maxConflicts bounds how often one partition is planned again after losing
// a commit to another compaction.
const maxConflicts = 10

// Run compacts the lake r. Partitions are independent: one that fails does
// not stop the others, and Run returns their errors joined.
func Run(ctx context.Context, r lake.Reader, opts *Options) (Stats, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.TargetSize <= 0 {
		o.TargetSize = 128 << 20
	}
	if o.MaxRoundBytes <= 0 {
		o.MaxRoundBytes = 512 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var err error
	if o.Prefix, err = lake.PartitionPrefix(o.Prefix); err != nil {
		return Stats{}, err
	}
	parts, err := Partitions(ctx, r, o.Prefix)
	if err != nil {
		return Stats{}, err
	}
	// Objects written after this point are the next run's: a run that
	// chased objects landing meanwhile might never end.
	cutoff := o.Now().Add(-o.OlderThan)
	var (
		mu    sync.Mutex
		stats Stats
		errs  []error
	)
	if sw, ok := r.(lake.Sweeper); ok {
		var err error
		if stats.Leftovers, err = sw.Sweep(ctx, o.Prefix); err != nil {
			errs = append(errs, fmt.Errorf("remove temporary files of crashed runs: %w", err))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, p := range parts {
		g.Go(func() error {
			c := &compactor{r: r, o: &o, cutoff: cutoff, res: Partition{Partition: p}, wrote: map[string]bool{}}
			err := c.partition(gctx, p)
			mu.Lock()
			defer mu.Unlock()
			stats.add(c.res)
			if err != nil {
				errs = append(errs, fmt.Errorf("partition %s: %w", p, err))
			}
			c.res.Err = err
			if o.Progress != nil {
				o.Progress(c.res)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		errs = append(errs, err)
	}
	return stats, errors.Join(errs...)
}

// Partitions lists the partition folders under prefix that hold objects or
// a manifest, in order.
func Partitions(ctx context.Context, r lake.Reader, prefix string) ([]string, error) {
	seen := map[string]bool{}
	for e, err := range r.List(ctx, cmp.Or(prefix, "event_type=")) {
		if err != nil {
			return nil, err
		}
		seen[lake.PartitionOf(e.Key)] = true
	}
	ms, err := lake.Manifests(ctx, r, prefix)
	if err != nil {
		return nil, err
	}
	for p := range ms {
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		if strings.HasPrefix(p, "event_type=") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

type compactor struct {
	r      lake.Reader
	o      *Options
	cutoff time.Time // objects written after it are left to the next run
	res    Partition
	// wrote holds the outputs this run committed: a round never merges
	// them again (they are as large as a round could make them, or the
	// last of the partition), so no event is merged twice by one run.
	wrote map[string]bool
	// known holds the event_uuids of live compacted objects that are not
	// merged again, by object, read once per partition.
	known map[string]map[string]struct{}
}

func (c *compactor) step(name string) error {
	if c.o.step == nil {
		return nil
	}
	return c.o.step(c.res.Partition + " " + name)
}

func (c *compactor) partition(ctx context.Context, part string) error {
	for {
		done, err := c.round(ctx, part)
		if errors.Is(err, errConflict) {
			c.res.Conflicts++
			if c.res.Conflicts > maxConflicts {
				return fmt.Errorf("lost %d commits in a row to other compactions", c.res.Conflicts)
			}
			continue
		}
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	return c.cleanup(ctx, part)
}

var errConflict = errors.New("another compaction committed first")

// input is an object merged in a round; rank orders inputs by source
// position: live compacted objects first (their events landed earlier),
// then the others by name.
type input struct {
	lake.Entry
	rank  int
	lines [][]byte
}

// ev is one event of a round.
type ev struct {
	uuid      string
	sec       int64
	nsec      int32
	rank, pos int
	line      []byte
}

// ns is created_at in nanoseconds since the epoch.
func (a *ev) ns() int64 { return a.sec*1e9 + int64(a.nsec) }

// before orders events: by created_at, then source position.
func (a *ev) before(b *ev) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// round plans, writes, verifies and commits one manifest. done means there
// was nothing (more) to merge.
func (c *compactor) round(ctx context.Context, part string) (done bool, err error) {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil {
		return false, err
	}
	var seq int64
	if m != nil {
		seq = m.Seq
	}
	live := map[string]lake.Output{}
	if m != nil {
		for _, o := range m.Live {
			live[o.Key] = o
		}
	}
	var plain, small []lake.Entry
	var full []string
	young := 0
	for e, err := range c.r.List(ctx, part) {
		if err != nil {
			return false, err
		}
		if lake.PartitionOf(e.Key) != part || strings.HasPrefix(path.Base(e.Key), ".") {
			continue // a deeper folder, or a hidden file
		}
		if _, _, ok := lake.FormatOf(e.Key); !ok {
			continue // not an event object; left alone
		}
		switch {
		case lake.IsCompacted(e.Key):
			if _, ok := live[e.Key]; !ok {
				continue // abandoned or superseded; cleanup's business
			}
			if e.Size < c.o.TargetSize/2 && !c.wrote[e.Key] {
				small = append(small, e)
			} else {
				full = append(full, e.Key)
			}
		case !m.Visible(e.Key):
			// superseded: cleanup's business
		case e.ModTime.After(c.cutoff):
			young++
		default:
			plain = append(plain, e)
		}
	}
	c.res.Young = young
	if len(plain) == 0 && len(small) < 2 {
		return true, nil
	}

	// Read inputs in source order up to the round's memory bound. A round
	// must merge at least two objects, or one not yet compacted.
	inputs, rawBytes, err := c.read(ctx, append(small, plain...))
	if err != nil {
		return false, err
	}
	if len(inputs) == 1 && lake.IsCompacted(inputs[0].Key) {
		if len(plain) == 0 {
			return true, nil
		}
		for _, e := range small {
			full = append(full, e.Key) // too big to merge with: treated as full
		}
		if inputs, rawBytes, err = c.read(ctx, plain); err != nil {
			return false, err
		}
	}
	// Parse, then keep the first event of each event_uuid.
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	var parsed []*ev
	var storedBytes int64
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, in := range inputs {
		storedBytes += in.Size
		for pos, line := range in.lines {
			info, err := enr.Check(line)
			if err != nil {
				return false, fmt.Errorf("%s line %d: a stored event does not pass the rules (was the object written by eventlake?): %w", in.Key, pos+1, err)
			}
			e := &ev{uuid: string(info.UUID), sec: info.Sec, nsec: int32(info.Nsec), rank: in.rank, pos: pos, line: line}
			lo, hi = min(lo, e.ns()), max(hi, e.ns())
			parsed = append(parsed, e)
		}
	}
	// A copy of an event has its created_at, so only compacted objects
	// whose created_at range meets this round's can hold one.
	var overlapping []string
	for _, key := range full {
		if o := live[key]; o.LastCreated == 0 && o.FirstCreated == 0 || o.FirstCreated <= hi && o.LastCreated >= lo {
			overlapping = append(overlapping, key)
		}
	}
	known, err := c.knownUUIDs(ctx, overlapping)
	if err != nil {
		return false, err
	}
	best := make(map[string]*ev, len(parsed))
next:
	for _, e := range parsed {
		for _, set := range known {
			if _, dup := set[e.uuid]; dup {
				c.res.Duplicates++
				continue next
			}
		}
		if old, dup := best[e.uuid]; dup {
			c.res.Duplicates++
			if !e.before(old) {
				continue
			}
		}
		best[e.uuid] = e
	}
	parsed = nil
	events := make([]*ev, 0, len(best))
	for _, e := range best {
		events = append(events, e)
	}
	slices.SortFunc(events, func(a, b *ev) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})

	format, compression := c.outputFormat(inputs)
	outputs, err := c.encode(seq+1, inputs, events, format, compression, rawBytes, storedBytes)
	if err != nil {
		return false, err
	}
	for i := range outputs {
		if err := c.step(fmt.Sprintf("write %d", i)); err != nil {
			return false, err
		}
		if err := c.write(ctx, &outputs[i]); err != nil {
			return false, err
		}
	}
	if err := c.step("verify"); err != nil {
		return false, err
	}
	if err := c.verify(ctx, outputs); err != nil {
		return false, err
	}

	// Commit: the next manifest, created only if no one else created it.
	now := c.o.Now().UTC()
	next := &lake.Manifest{Partition: part, Seq: seq + 1, Created: now}
	merged := map[string]bool{}
	for _, in := range inputs {
		merged[in.Key] = true
	}
	if m != nil {
		for _, o := range m.Live {
			if !merged[o.Key] {
				next.Live = append(next.Live, o)
			}
		}
		next.Superseded = append(next.Superseded, m.Superseded...)
	}
	for _, o := range outputs {
		next.Live = append(next.Live, o.Output)
	}
	for _, in := range inputs {
		next.Superseded = append(next.Superseded, lake.Superseded{Key: in.Key, Since: now})
	}
	if err := c.step("commit"); err != nil {
		return false, err
	}
	err = c.r.Create(ctx, lake.ManifestKey(part, next.Seq), next.Encode())
	if errors.Is(err, lake.ErrExist) {
		return false, c.abandon(ctx, part, outputs)
	}
	if err != nil {
		return false, err
	}
	c.res.Rounds++
	c.res.InputObjects += len(inputs)
	c.res.InputBytes += storedBytes
	c.res.OutputObjects += len(outputs)
	for _, o := range outputs {
		c.res.OutputBytes += o.Bytes
		c.res.Events += o.Events
	}
	for _, in := range inputs {
		if lake.IsCompacted(in.Key) {
			c.res.Recompacted += live[in.Key].Events
		}
	}
	for _, o := range outputs {
		c.wrote[o.Key] = true
	}
	return false, nil
}

// roundBytes is this partition's share of MaxRoundBytes.
func (c *compactor) roundBytes() int64 {
	return max(c.o.MaxRoundBytes/int64(c.o.Concurrency), 1<<20)
}

// read reads candidates in order until roundBytes of events are in.
func (c *compactor) read(ctx context.Context, candidates []lake.Entry) ([]*input, int64, error) {
	var inputs []*input
	var rawBytes int64
	for i, e := range candidates {
		if rawBytes >= c.roundBytes() && len(inputs) > 0 {
			break
		}
		body, err := c.r.Read(ctx, e.Key)
		if errors.Is(err, lake.ErrNotExist) {
			return nil, 0, errConflict // deleted by a compaction that committed meanwhile
		}
		if err != nil {
			return nil, 0, err
		}
		lines, err := lake.Lines(e.Key, body)
		if err != nil {
			return nil, 0, err
		}
		for _, l := range lines {
			rawBytes += int64(len(l)) + 1
		}
		inputs = append(inputs, &input{Entry: e, rank: i, lines: lines})
	}
	return inputs, rawBytes, nil
}

// outputFormat is the options' format and compression, else the most
// common among the inputs.
func (c *compactor) outputFormat(inputs []*input) (lake.Format, lake.Compression) {
	type fc struct {
		f lake.Format
		c lake.Compression
	}
	count := map[fc]int{}
	best, n := fc{lake.JSONL, lake.Gzip}, 0
	for _, in := range inputs {
		f, c, _ := lake.FormatOf(in.Key)
		k := fc{f, c}
		count[k]++
		if count[k] > n {
			best, n = k, count[k]
		}
	}
	if c.o.Format != nil {
		best.f = *c.o.Format
	}
	if c.o.Compression != nil {
		best.c = *c.o.Compression
	}
	if best.f == lake.Parquet {
		best.c = lake.None
	} else if c.o.Format != nil && c.o.Compression == nil && best.c == lake.None {
		best.c = lake.Gzip // Parquet inputs made into NDJSON: the default compression
	}
	return best.f, best.c
}

// output is an object to write.
type output struct {
	lake.Output
	body []byte
}

// encode splits the kept events into objects of about the target size,
// estimating the stored size from the inputs' compression ratio, and names
// them after the round's plan: the same inputs and options always give the
// same names and bytes, so a compaction that runs again after a crash, or
// beside another, finds its objects already there. seq is the manifest
// that is to make them live; it starts their names.
func (c *compactor) encode(seq int64, inputs []*input, events []*ev, f lake.Format, comp lake.Compression, rawBytes, storedBytes int64) ([]output, error) {
	h := sha256.New()
	fmt.Fprintf(h, "eventlake compaction v1\n%s\n%s\n%d\n", f, comp, c.o.TargetSize)
	for _, in := range inputs {
		fmt.Fprintf(h, "%s\n%d\n", in.Key, in.Size)
	}
	plan := hex.EncodeToString(h.Sum(nil))[:16]
	limit := c.o.TargetSize
	if storedBytes > 0 && rawBytes > storedBytes {
		limit = int64(float64(c.o.TargetSize) * float64(rawBytes) / float64(storedBytes))
	}
	var outs []output
	part := c.res.Partition
	for start := 0; start < len(events); {
		end, size := start, int64(0)
		for end < len(events) && (end == start || size+int64(len(events[end].line))+1 <= limit) {
			size += int64(len(events[end].line)) + 1
			end++
		}
		lines := make([][]byte, end-start)
		for i, e := range events[start:end] {
			lines[i] = e.line
		}
		body, err := lake.Encode(f, comp, lines)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		key := fmt.Sprintf("%s%s%d.%s.%04d%s", part, lake.CompactedPrefix, seq, plan, len(outs), lake.Ext(f, comp))
		outs = append(outs, output{
			Output: lake.Output{Key: key, Bytes: int64(len(body)), Events: int64(end - start), SHA256: hex.EncodeToString(sum[:]),
				FirstCreated: events[start].ns(), LastCreated: events[end-1].ns()},
			body: body,
		})
		start = end
	}
	return outs, nil
}

// write creates an output. One already there (a crashed or concurrent run
// of the same plan) must hold the same bytes.
func (c *compactor) write(ctx context.Context, o *output) error {
	err := c.r.Create(ctx, o.Key, o.body)
	if !errors.Is(err, lake.ErrExist) {
		return err
	}
	have, err := c.r.Read(ctx, o.Key)
	if errors.Is(err, lake.ErrNotExist) {
		// Deleted as abandoned by a run of the same plan that lost the
		// commit to another: this run cannot commit either.
		return errConflict
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(have, o.body) {
		return fmt.Errorf("%s exists with other content than this plan makes: refusing to commit", o.Key)
	}
	return nil
}

// verify reads every output back and checks its bytes and its events.
func (c *compactor) verify(ctx context.Context, outs []output) error {
	for _, o := range outs {
		body, err := c.r.Read(ctx, o.Key)
		if errors.Is(err, lake.ErrNotExist) {
			// Deleted by a run of the same plan that lost the commit to
			// another: this run cannot commit either.
			return errConflict
		}
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != o.SHA256 {
			return fmt.Errorf("verify %s: stored bytes differ from the bytes written", o.Key)
		}
		lines, err := lake.Lines(o.Key, body)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if int64(len(lines)) != o.Events {
			return fmt.Errorf("verify %s: reads back %d events, wrote %d", o.Key, len(lines), o.Events)
		}
	}
	return nil
}

// abandon removes this round's outputs after another compaction committed
// first, except those the winner's manifest made live (the same plan makes
// the same objects).
func (c *compactor) abandon(ctx context.Context, part string, outs []output) error {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if m.Visible(o.Key) {
			continue
		}
		if err := c.r.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return errConflict
}

// knownUUIDs reads the event_uuids of live compacted objects that this
// round does not merge: an event already compacted is kept over a later
// copy of it. Sets are read once per partition.
func (c *compactor) knownUUIDs(ctx context.Context, keys []string) ([]map[string]struct{}, error) {
	if c.known == nil {
		c.known = map[string]map[string]struct{}{}
	}
	var sets []map[string]struct{}
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	for _, key := range keys {
		set, ok := c.known[key]
		if !ok {
			body, err := c.r.Read(ctx, key)
			if errors.Is(err, lake.ErrNotExist) {
				return nil, errConflict
			}
			if err != nil {
				return nil, err
			}
			lines, err := lake.Lines(key, body)
			if err != nil {
				return nil, err
			}
			set = make(map[string]struct{}, len(lines))
			for i, l := range lines {
				info, err := enr.Check(l)
				if err != nil {
					return nil, fmt.Errorf("%s line %d: %w", key, i+1, err)
				}
				set[string(info.UUID)] = struct{}{}
			}
			c.known[key] = set
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// cleanup deletes, once the grace period has passed, the objects the
// latest manifest supersedes and the manifests before it; and compacted
// objects that can no longer become live (a crashed or outrun
// compaction's): those named for a manifest seq already committed.
func (c *compactor) cleanup(ctx context.Context, part string) error {
	m, err := lake.LatestManifest(ctx, c.r, part)
	if err != nil || m == nil {
		return err
	}
	seqs, err := lake.Manifests(ctx, c.r, part)
	if err != nil {
		return err
	}
	now := c.o.Now()
	expired := func(t time.Time) bool { return !now.Before(t.Add(c.o.Grace)) }
	superseded := map[string]time.Time{}
	for _, x := range m.Superseded {
		superseded[x.Key] = x.Since
	}
	var del []string
	pending := 0
	for e, err := range c.r.List(ctx, part) {
		if err != nil {
			return err
		}
		if lake.PartitionOf(e.Key) != part {
			continue
		}
		if since, ok := superseded[e.Key]; ok {
			if expired(since) {
				del = append(del, e.Key)
			} else {
				pending++
			}
			continue
		}
		if lake.IsCompacted(e.Key) && !m.Visible(e.Key) {
			// An output only the manifest seq in its name could make
			// live; once that seq is taken by another, no run can.
			if seq, ok := lake.CompactedSeq(e.Key); ok && seq <= m.Seq {
				del = append(del, e.Key)
			}
		}
	}
	if expired(m.Created) {
		for _, seq := range seqs[part] {
			if seq < m.Seq {
				del = append(del, lake.ManifestKey(part, seq))
			}
		}
	}
	c.res.Pending = pending
	for i, key := range del {
		if err := c.step(fmt.Sprintf("delete %d", i)); err != nil {
			return err
		}
		if err := c.r.Delete(ctx, key); err != nil {
			return err
		}
		c.res.Deleted++
	}
	return nil
}

package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Compaction rewrites many small objects of a partition into few large ones.
// S3 cannot swap one set of objects for another atomically, so readers apply
// one rule, and compaction switches sets by creating a single object, the
// partition's next manifest (see docs/compaction.md):
//
//   - Every partition has a log of manifests at
//     ManifestPrefix + <partition folder> + <seq>.json; only the one with the
//     highest seq counts. It is created with a conditional create, so two
//     compactions can never both commit the same seq.
//   - An object whose name starts with CompactedPrefix is visible only when
//     the latest manifest lists it as live: compaction writes its outputs
//     before committing, and an output that was never committed stays
//     invisible.
//   - Any other object is visible unless the latest manifest lists it as
//     superseded: its events are in a live compacted object. The list is
//     kept for good, so an object written again by a replayed batch (same
//     name, same events) stays hidden too.
//
// No object name made by Writer starts with CompactedPrefix: source stems
// never hold a '.'.
//
// ManifestPrefix begins with neither '_' nor '.': Athena (like Hive) skips
// such paths as hidden, and the table over the manifests must read them.
// It cannot be taken for a partition (those begin with "event_type=") or
// for the dead letters (DeadLetterPrefix), so the listings of event types
// and partitions pass it over.
const (
	ManifestPrefix  = "eventlake-compaction/"
	CompactedPrefix = "compacted."
)

// Manifest is the state of one partition after a compaction.
type Manifest struct {
	Partition  string       `json:"folder"` // the partition folder, ending in '/'
	Seq        int64        `json:"seq"`    // 1, 2, ...: the position in the partition's log
	Created    time.Time    `json:"created"`
	Live       []Output     `json:"live"`       // the compacted objects readers use
	Superseded []Superseded `json:"superseded"` // objects readers skip; deleted after a grace period

	// The keys alone, for SQL engines (see ViewSQL); set by Encode.
	LiveKeys       []string `json:"live_keys"`
	SupersededKeys []string `json:"superseded_keys"`

	live, superseded map[string]bool // indexes, built by ReadManifest
}

// Output is a live compacted object.
type Output struct {
	Key    string `json:"key"`
	Bytes  int64  `json:"bytes"`
	Events int64  `json:"events"`
	SHA256 string `json:"sha256"` // of the stored bytes
	// The created_at of its first and last events, in nanoseconds since
	// the epoch: events are stored in created_at order.
	FirstCreated int64 `json:"first_created_ns"`
	LastCreated  int64 `json:"last_created_ns"`
}

// Superseded is an object whose events are in a live compacted object.
type Superseded struct {
	Key   string    `json:"key"`
	Since time.Time `json:"since"` // when the manifest that superseded it was committed
}

// ManifestKey is where the manifest seq of partition is stored.
func ManifestKey(partition string, seq int64) string {
	return fmt.Sprintf("%s%s%010d.json", ManifestPrefix, partition, seq)
}

// CompactedSeq is the manifest seq that is to make the compacted object
// key live: compacted.<seq>.<plan>.<n><ext>.
func CompactedSeq(key string) (int64, bool) {
	name, ok := strings.CutPrefix(path.Base(key), CompactedPrefix)
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(name, ".")
	seq, err := strconv.ParseInt(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// IsCompacted tells whether key names a compaction output.
func IsCompacted(key string) bool {
	return strings.HasPrefix(path.Base(key), CompactedPrefix)
}

// PartitionPrefix checks a folder naming some partitions, as a user types
// it (event_type=payment, event_type=payment/created_date=2026-11-27/),
// and returns it ending in '/'; "" (every partition) stays "".
func PartitionPrefix(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	s = strings.TrimSuffix(s, "/")
	if err := CheckKey(s); err != nil || !strings.HasPrefix(s, "event_type=") {
		return "", fmt.Errorf("partition %q: want a partition folder such as event_type=payment/ or event_type=payment/created_date=2026-11-27/", s)
	}
	return s + "/", nil
}

// PartitionOf is the folder of key, ending in '/' ("" at the root).
func PartitionOf(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// Visible applies the readers' rule to key, in a partition whose latest
// manifest is m (nil when it has none).
func (m *Manifest) Visible(key string) bool {
	if IsCompacted(key) {
		if m == nil {
			return false
		}
		if m.live != nil {
			return m.live[key]
		}
		for _, o := range m.Live {
			if o.Key == key {
				return true
			}
		}
		return false
	}
	if m == nil {
		return true
	}
	if m.superseded != nil {
		return !m.superseded[key]
	}
	for _, s := range m.Superseded {
		if s.Key == key {
			return false
		}
	}
	return true
}

// Encode is the manifest as one line of JSON, as Athena's JSON SerDe reads it.
func (m *Manifest) Encode() []byte {
	m.LiveKeys = make([]string, len(m.Live))
	for i, o := range m.Live {
		m.LiveKeys[i] = o.Key
	}
	m.SupersededKeys = make([]string, len(m.Superseded))
	for i, s := range m.Superseded {
		m.SupersededKeys[i] = s.Key
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings, numbers and times
	}
	return append(b, '\n')
}

// Manifests lists the manifest seqs of every partition under prefix (a
// partition folder or a part of one; "" for the whole lake).
func Manifests(ctx context.Context, r Lister, prefix string) (map[string][]int64, error) {
	out := map[string][]int64{}
	for e, err := range r.List(ctx, ManifestPrefix+prefix) {
		if err != nil {
			return nil, err
		}
		rel := strings.TrimPrefix(e.Key, ManifestPrefix)
		part, name := PartitionOf(rel), path.Base(rel)
		seq, err := strconv.ParseInt(strings.TrimSuffix(name, ".json"), 10, 64)
		if err != nil || !strings.HasSuffix(name, ".json") || seq <= 0 {
			continue // not ours
		}
		out[part] = append(out[part], seq) // listed in key order: ascending
	}
	return out, nil
}

// ReadManifest reads the manifest seq of partition.
func ReadManifest(ctx context.Context, r ReadLister, partition string, seq int64) (*Manifest, error) {
	key := ManifestKey(partition, seq)
	b, err := r.Read(ctx, key)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	if m.Partition != partition || m.Seq != seq {
		return nil, fmt.Errorf("manifest %s names partition %q seq %d", key, m.Partition, m.Seq)
	}
	m.live = make(map[string]bool, len(m.Live))
	for _, o := range m.Live {
		m.live[o.Key] = true
	}
	m.superseded = make(map[string]bool, len(m.Superseded))
	for _, s := range m.Superseded {
		m.superseded[s.Key] = true
	}
	return &m, nil
}

// LatestManifest reads the latest manifest of partition, or returns nil
// when it has none.
func LatestManifest(ctx context.Context, r ReadLister, partition string) (*Manifest, error) {
	for try := 0; ; try++ {
		seqs, err := Manifests(ctx, r, partition)
		if err != nil {
			return nil, err
		}
		s := seqs[partition]
		if len(s) == 0 {
			return nil, nil
		}
		m, err := ReadManifest(ctx, r, partition, s[len(s)-1])
		if errors.Is(err, ErrNotExist) && try < 20 {
			continue // deleted as superseded by a newer one since the listing
		}
		return m, err
	}
}

// Snapshot lists the objects a reader should read under prefix: the
// partition objects (not dead letters, not the manifests) that the latest
// manifests make visible. It checks that no manifest was committed while
// it listed, and lists again if one was, so the result is one consistent
// state of the lake. An object can still be deleted before the caller
// reads it, when it was superseded at least a grace period earlier; a
// reader that then gets ErrNotExist takes a new snapshot.
func Snapshot(ctx context.Context, r ReadLister, prefix string) ([]Entry, error) {
	objs, _, err := SnapshotWithManifests(ctx, r, prefix)
	return objs, err
}

// SnapshotWithManifests is Snapshot, and the latest manifest of each
// partition it used.
func SnapshotWithManifests(ctx context.Context, r ReadLister, prefix string) ([]Entry, map[string]*Manifest, error) {
	for try := 0; ; try++ {
		before, err := Manifests(ctx, r, prefix)
		if err != nil {
			return nil, nil, err
		}
		latest := map[string]*Manifest{}
		for part, seqs := range before {
			m, err := ReadManifest(ctx, r, part, seqs[len(seqs)-1])
			if errors.Is(err, ErrNotExist) {
				continue // deleted by a later compaction's clean-up; the check below lists again
			}
			if err != nil {
				return nil, nil, err
			}
			latest[part] = m
		}
		var out []Entry
		for e, err := range r.List(ctx, prefix) {
			if err != nil {
				return nil, nil, err
			}
			if strings.HasPrefix(e.Key, "_") || strings.HasPrefix(e.Key, ManifestPrefix) || strings.HasPrefix(path.Base(e.Key), ".") {
				continue // dead letters, manifests, hidden files
			}
			if latest[PartitionOf(e.Key)].Visible(e.Key) {
				out = append(out, e)
			}
		}
		after, err := Manifests(ctx, r, prefix)
		if err != nil {
			return nil, nil, err
		}
		if sameLatest(before, after) && len(latest) == len(before) {
			return out, latest, nil
		}
		if try == 20 {
			return nil, nil, errors.New("the lake kept changing while it was listed: 20 compactions committed meanwhile")
		}
	}
}

func sameLatest(a, b map[string][]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for part, s := range a {
		t := b[part]
		if len(t) == 0 || t[len(t)-1] != s[len(s)-1] {
			return false
		}
	}
	return true
}

package kinesis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ShardCheckpoint is how far a shard has been durably processed.
type ShardCheckpoint struct {
	// Sequence is the last sequence number whose records are all written.
	Sequence string `json:"sequence,omitempty"`
	// Done: the shard is closed and every record of it is written.
	Done bool `json:"done,omitempty"`
}

// Checkpoints is a checkpoint file: one JSON document, replaced atomically
// (temporary file, fsync, rename) on every save, so a crash leaves either
// the old or the new one.
type Checkpoints struct {
	path   string
	mu     sync.Mutex
	Stream string                     `json:"stream"`
	Shards map[string]ShardCheckpoint `json:"shards"`
}

// LoadCheckpoints reads path, or starts empty if it does not exist. A file
// for another stream is refused.
func LoadCheckpoints(path, stream string) (*Checkpoints, error) {
	c := &Checkpoints{path: path, Stream: stream, Shards: map[string]ShardCheckpoint{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
	}
	if c.Stream != stream {
		return nil, fmt.Errorf("checkpoint file %s is for stream %q, not %q", path, c.Stream, stream)
	}
	if c.Shards == nil {
		c.Shards = map[string]ShardCheckpoint{}
	}
	return c, nil
}

// Get returns a shard's checkpoint.
func (c *Checkpoints) Get(shard string) ShardCheckpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Shards[shard]
}

// Set records a shard's checkpoint and saves the file.
func (c *Checkpoints) Set(shard string, cp ShardCheckpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Shards[shard] = cp
	if c.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.path)
	f, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), c.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Package mem is the lake store in memory (gocloud.dev's memblob through
// the blobstore adapter), for tests and mem:// URLs.
package mem

import (
	"gocloud.dev/blob/memblob"

	"github.com/eventlake/eventlake/internal/lake/blobstore"
)

// New returns an empty store in memory, named mem://.
func New() *blobstore.Store {
	return blobstore.New(memblob.OpenBucket(nil), "mem://")
}

//go:build !unix

package lake

import "os"

// tryLock cannot lock here: sweeps then remove only old leftovers.
func tryLock(f *os.File) (bool, error) { return false, errNoLocks }

//go:build !unix

package folder

import "os"

// tryLock cannot lock here: sweeps then remove only old leftovers.
func tryLock(f *os.File) (bool, error) { return false, errNoLocks }

package main

import "strings"

// localLake reports whether the lake at url is a local folder (a path, or
// file:///path) and, if so, its path. Every command that treats local and
// remote lakes differently asks this one function.
func localLake(url string) (dir string, ok bool) {
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		return dir, true
	}
	return url, !strings.Contains(url, "://")
}

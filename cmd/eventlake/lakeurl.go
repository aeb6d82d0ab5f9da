package main

import (
	"flag"
	"strings"
)

// localLake reports whether the lake at url is a local folder (a path, or
// file:///path) and, if so, its path. Every command that treats local and
// remote lakes differently asks this one function.
func localLake(url string) (dir string, ok bool) {
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		return dir, true
	}
	return url, !strings.Contains(url, "://")
}

// lakeFlag defines --lake, the flag that names the lake in every command,
// on p, and --to on the same p: the name run and demo gave it before
// compact, query and ddl came. --to is deprecated (its help says so) and
// is kept for one release.
func lakeFlag(fs *flag.FlagSet, p *string, value, usage string) {
	fs.StringVar(p, "lake", value, usage)
	fs.StringVar(p, "to", value, "deprecated: the old name of --lake, accepted for one more release")
}

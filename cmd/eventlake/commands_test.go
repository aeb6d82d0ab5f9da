package main

import (
	"errors"
	"strings"
	"testing"
)

// TestCommandTable: the usage text lists every command of the table, each
// one's -h reaches that command (its own usage line, exit 2 as for any
// usage mistake), and help, -h and --help print the same text.
func TestCommandTable(t *testing.T) {
	text := usage()
	for _, c := range commands() {
		if !strings.Contains(text, "\n  "+c.name+" ") || !strings.Contains(text, c.summary+"\n") {
			t.Errorf("usage lacks %s: %q\n%s", c.name, c.summary, text)
		}
		if c.name == "help" {
			continue
		}
		_, stderr, err := cli(t, nil, c.name, "-h")
		if !errors.Is(err, errUsage) || !strings.Contains(stderr, "usage: eventlake "+c.name+" ") {
			t.Errorf("%s -h: %v\n%s", c.name, err, stderr)
		}
	}
	// run and demo name the lake --lake, as compact, query and ddl do, and
	// still take its old name --to, which their help calls deprecated.
	for _, name := range []string{"run", "demo"} {
		_, stderr, _ := cli(t, nil, name, "-h")
		if !strings.Contains(stderr, "  -lake string\n    \tthe lake: ") || !strings.Contains(stderr, "  -to string\n    \tdeprecated: the old name of --lake") {
			t.Errorf("%s -h does not show --lake and the deprecated --to:\n%s", name, stderr)
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, _, err := cli(t, nil, args...)
		if err != nil || out != text {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

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
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		out, _, err := cli(t, nil, args...)
		if err != nil || out != text {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

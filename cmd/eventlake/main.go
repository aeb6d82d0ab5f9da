// Command eventlake lands streams of JSON events in a partitioned data lake.
//
//	eventlake demo                         generate 1M events and land them in ./lake
//	eventlake gen -n N --to FILE|-         generate events
//	eventlake run --from FILE|- --lake URL land events from a file or stdin
//
// Run "eventlake help" or "eventlake <command> -h" for flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// errUsage marks a command-line mistake (exit 2); the flag package has
// already said what is wrong.
var errUsage = errors.New("usage")

// usageError is a flag value no command can use: a usage mistake (exit 2)
// found after the flag package parsed the flags, with what is wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Is makes a usageError match errUsage.
func (e *usageError) Is(target error) bool { return target == errUsage }

// badUsage is a usage mistake; the message names the flag.
func badUsage(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errInterrupted marks a run stopped by a signal after flushing (exit 130).
var errInterrupted = errors.New("interrupted")

// command is one eventlake command: the name typed, the line the usage
// text gives it, and what runs it with the arguments after the name.
type command struct {
	name, summary string
	run           func(e env, ctx context.Context, args []string) error
}

// commands is the command table: run dispatches on it and usage lists it,
// in this order.
func commands() []command {
	return []command{
		{"demo", "generate 1,000,000 events and land them in ./lake, then show the result", env.demo},
		{"gen", "generate a realistic event stream (NDJSON)", env.gen},
		{"run", "land events from a file, stdin, Kinesis or SQS in a lake (folder or s3://)", env.run},
		{"compact", "merge small objects into large ones, removing duplicates (local or s3://)", env.compact},
		{"query", "SQL over a local lake with DuckDB (a view \"events\")", env.query},
		{"ddl", "the Athena table over the lake, with partition projection", env.ddl},
		{"cost", "monthly AWS cost of eventlake beside Amazon Data Firehose", env.cost},
		{"help", "show this text", env.help},
	}
}

// usage is the text of eventlake help, made from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString("eventlake lands streams of JSON events in a partitioned data lake.\n\nCommands:\n")
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\nRun \"eventlake <command> -h\" for the flags of a command.\n")
	return b.String()
}

// help prints the usage text on stdout.
func (e env) help(_ context.Context, _ []string) error {
	fmt.Fprint(e.stdout, usage())
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		if err != errUsage { // the flag package has not said it
			fmt.Fprintln(os.Stderr, "eventlake:", err)
		}
		os.Exit(2)
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "eventlake: interrupted; everything read was written")
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "eventlake:", err)
		os.Exit(1)
	}
}

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// tty says whether stderr is a terminal (progress lines are drawn only then).
	tty bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, tty: isTerminal(stderr)}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return errUsage
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(e, ctx, rest)
		}
	}
	fmt.Fprintf(stderr, "eventlake: unknown command %q\n\n%s", name, usage())
	return errUsage
}

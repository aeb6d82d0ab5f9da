package gen

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
)

func TestWriteIsDeterministicAndMatchesEach(t *testing.T) {
	opts := Options{Events: 3*blockSize + 17, Seed: 7, Bad: 0.05, Dup: 0.05}
	var a, b bytes.Buffer
	if _, err := Write(context.Background(), &a, opts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), &b, opts, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed gave different bytes")
	}
	var c bytes.Buffer
	n := 0
	if err := Each(opts, func(line []byte, _ Kind) error {
		c.Write(line)
		c.WriteByte('\n')
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != opts.Events {
		t.Fatalf("Each gave %d lines, want %d", n, opts.Events)
	}
	if !bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("Write and Each disagree")
	}
	var d bytes.Buffer
	opts.Seed = 8
	Write(context.Background(), &d, opts, nil)
	if bytes.Equal(a.Bytes(), d.Bytes()) {
		t.Fatal("different seeds gave the same bytes")
	}
}

// TestKindsMatchTheRules checks that every good line passes the event rules,
// every bad line fails with the reason the generator announced, and the
// stream covers the catalogue.
func TestKindsMatchTheRules(t *testing.T) {
	opts := Options{Events: 50000, Seed: 1, Bad: 0.05, Dup: 0.02, Oversize: 3000}
	e := event.NewEnricher(&event.Options{MaxSize: 3000})
	names := map[string]int{}
	domains := map[string]bool{}
	reasons := map[event.Reason]int{}
	seen := map[string]bool{}
	var dups, good, size int
	err := Each(opts, func(line []byte, k Kind) error {
		size += len(line) + 1
		_, info, err := e.Enrich(nil, line)
		switch {
		case k.Reason != "":
			var ee *event.Error
			if !errors.As(err, &ee) || ee.Reason != k.Reason {
				t.Fatalf("bad line %q: got %v, want reason %s", line, err, k.Reason)
			}
			reasons[k.Reason]++
		case err != nil:
			t.Fatalf("good line %q refused: %v", line, err)
		default:
			name := string(info.Type) + ":" + string(info.Subtype)
			names[name]++
			domains[string(info.Type)] = true
			if k.Dup != seen[string(info.UUID)] {
				t.Fatalf("dup flag %v but uuid seen=%v: %s", k.Dup, seen[string(info.UUID)], line)
			}
			seen[string(info.UUID)] = true
			if k.Dup {
				dups++
			} else {
				good++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(domains) != 20 {
		t.Errorf("%d domains, want 20", len(domains))
	}
	if len(reasons) != 11 {
		t.Errorf("bad reasons covered: %v, want all 11", reasons)
	}
	if got := float64(dups) / float64(opts.Events); math.Abs(got-opts.Dup) > 0.005 {
		t.Errorf("dup fraction %.4f, want about %.2f", got, opts.Dup)
	}
	if got := len(Names()); got < 95 || got > 105 {
		t.Errorf("%d names, want about 100", got)
	}
	if avg := size / opts.Events; avg < 250 || avg > 700 {
		t.Errorf("average line %d bytes, want a few hundred", avg)
	}
	t.Logf("avg %d bytes, %d good, %d dups, %d type:subtype pairs", size/opts.Events, good, dups, len(names))
}

func TestOptionsRejected(t *testing.T) {
	for _, o := range []Options{{Events: -1}, {Bad: 1.5}, {Dup: -0.1}, {Bad: 0.6, Dup: 0.6}} {
		if err := Each(o, func([]byte, Kind) error { return nil }); err == nil || !strings.Contains(err.Error(), "gen:") {
			t.Errorf("Each(%+v) err = %v, want a gen: error", o, err)
		}
	}
}

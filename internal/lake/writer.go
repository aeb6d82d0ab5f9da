package lake

import (
	"context"
	"errors"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"
)

// DeadLetterPrefix is where dead letters go inside the lake when no other
// destination is given. Hive readers skip folders starting with '_'.
const DeadLetterPrefix = "_dead_letters/"

// DeadLetterDir is the folder, below the dead-letter prefix, of the dead
// letters refused for reason. Reasons are fixed codes (event.Reason), so the
// folder is always a safe name.
func DeadLetterDir(reason string) string { return "reason=" + reason + "/" }

// DeadLetterReason is the reason of a folder made by DeadLetterDir.
func DeadLetterReason(dir string) string {
	return strings.TrimSuffix(strings.TrimPrefix(dir, "reason="), "/")
}

// WriterOptions tune a Writer. The zero value means gzip, one write per core
// times four, dead letters inside the lake.
type WriterOptions struct {
	Compression Compression
	// Concurrency bounds the objects compressed and written at once.
	Concurrency int
	// DeadLetters is where dead letters go; nil means the lake itself,
	// under DeadLetterPrefix.
	DeadLetters Store
	// Format of partition objects; dead letters are always NDJSON.
	Format Format
}

// Writer creates the objects of a batch: one per partition, one per
// dead-letter reason, each compressed and conditionally created.
type Writer struct {
	lake, dead Store
	deadPrefix string
	enc        *encoder
	format     Format
	conc       int
}

// NewWriter returns a Writer over lake. A nil opts means defaults.
func NewWriter(lake Store, opts *WriterOptions) (*Writer, error) {
	if lake == nil {
		return nil, errors.New("lake: nil store")
	}
	if opts == nil {
		opts = &WriterOptions{}
	}
	enc := newEncoder(opts.Compression)
	w := &Writer{lake: lake, dead: opts.DeadLetters, enc: enc, format: opts.Format, conc: opts.Concurrency}
	if w.dead == nil {
		w.dead, w.deadPrefix = lake, DeadLetterPrefix
	}
	if w.conc <= 0 {
		w.conc = 4 * runtime.GOMAXPROCS(0)
	}
	return w, nil
}

// Swept is what the writer's stores removed so far of crashed writers'
// leftovers (see Sweeper): a local folder sweeps each folder the first time
// it writes there.
func (w *Writer) Swept() Swept {
	var out Swept
	for i, s := range []Store{w.lake, w.dead} {
		if sw, ok := s.(Sweeper); ok && (i == 0 || w.dead != w.lake) {
			got := sw.Swept()
			out.Files += got.Files
			out.Bytes += got.Bytes
		}
	}
	return out
}

// WantsRows reports whether the writer uses Object.Rows: a Parquet
// writer's objects are typed (pipeline.RowSink).
func (w *Writer) WantsRows() bool { return w.format == Parquet }

// Compression is the writer's compression.
func (w *Writer) Compression() Compression { return w.enc.c }

// Object is one object of a batch. The caller sets Dir, Dead, Body and
// Events; Write sets Key, Existed and Size.
type Object struct {
	Dir    string   // partition folder ending in '/', e.g. "event_type=a/created_date=2024-03-17/", or "reason=x/" for dead letters
	Dead   bool     // a dead-letter object
	Body   [][]byte // NDJSON, uncompressed, in pieces
	Events int      // lines in Body
	// Rows, if set, are the typed columns of Body's events, in order, one
	// per line, without Event (WithEvents takes each from Body): what the
	// landing rules found in each event, handed over by a producer that
	// has them (pipeline.Runner, for a sink that WantsRows) so that a
	// Parquet object or a table's data file need not parse Body again.
	Rows []Row
	// Done, if set, is called as soon as the writer no longer needs Body
	// (the object is written, or failed), so the caller can reuse its
	// memory before the whole batch is written.
	Done func()

	Key     string // the key it was written to, relative to its store
	Existed bool   // an object was already there (same batch written before); nothing changed
	Size    int    // bytes stored (compressed)
	Err     error  // why this object was not written, if it was not
}

// Write creates every object of the batch called name. Objects already
// present are marked Existed, not treated as errors. Every object is tried;
// each failed one gets Err, and Write returns them joined. Objects written
// stay (their names are deterministic, so a retry finds them and adds
// nothing).
func (w *Writer) Write(ctx context.Context, name Name, objs []Object) error {
	var g errgroup.Group
	g.SetLimit(w.conc)
	base := name.String() + w.enc.c.Ext()
	for i := range objs {
		o := &objs[i]
		store := w.lake
		o.Key = o.Dir + base
		switch {
		case o.Dead:
			store = w.dead
			o.Key = w.deadPrefix + o.Key
		case w.format == Parquet:
			o.Key = o.Dir + name.String() + ParquetExt
		}
		g.Go(func() error {
			o.Err = w.write(ctx, store, o)
			if o.Done != nil {
				o.Done()
			}
			return nil
		})
	}
	g.Wait()
	var errs []error
	for i := range objs {
		if objs[i].Err != nil {
			errs = append(errs, objs[i].Err)
		}
	}
	return errors.Join(errs...)
}

// encode makes o's stored body; release gives its memory back.
func (w *Writer) encode(o *Object) (body [][]byte, release func(), err error) {
	if w.format == Parquet && !o.Dead {
		pq, err := encodeParquet(o.Body, o.Rows)
		if err != nil {
			return nil, nil, err
		}
		return [][]byte{pq}, func() {}, nil
	}
	return w.enc.encode(o.Body)
}

func (w *Writer) write(ctx context.Context, store Store, o *Object) error {
	body, release, err := w.encode(o)
	if err != nil {
		return err
	}
	defer release()
	o.Size = 0
	for _, b := range body {
		o.Size += len(b)
	}
	err = store.Create(ctx, o.Key, body...)
	if errors.Is(err, ErrExist) {
		o.Existed = true
		return nil
	}
	return err
}

package table

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"

	"github.com/eventlake/eventlake/internal/lake"
)

// The merge of a round streams: each input file is read ChunkRows rows at
// a time (a smaller file whole), in created_datetime order (Commit writes every file sorted by
// it), and a heap merges the inputs by (created_datetime, input order, row).
// That is also the de-duplication order, so the first copy of an
// event_uuid the merge meets is the one kept: the earliest
// created_datetime, then the earliest commit (data sequence number), then
// file path, then row. The kept rows go to a streaming Parquet writer, a
// row group at a time, cutting a new file at the target size. What stays
// in memory: one batch per input of a group (MaxInputs inputs, and small
// ones beyond within GroupBytes of stored bytes), the row group being
// encoded, and the set of the partition's event_uuids.

// merged is what mergeRound made.
type merged struct {
	files      []iceberg.DataFile
	rows       int64 // rows written
	duplicates int64 // rows dropped
	written    int   // files written (not found from an earlier attempt)
}

// mergeRound reads the round's inputs, keeps the first copy of each
// event_uuid (none whose event_uuid a kept file holds), and writes the
// rest sorted by created_datetime into files named compacted.<id>.<n>.parquet
// in the partition's folder. It commits nothing.
func mergeRound(ctx context.Context, tbl *itable.Table, r *round, opts CompactOptions) (*merged, error) {
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	seen := map[string]struct{}{}
	for _, k := range r.kept {
		if err := readUUIDs(ctx, fsys, k.file.FilePath(), seen); err != nil {
			return nil, err
		}
	}
	w, err := newOutWriter(ctx, tbl, r, opts)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	out := &merged{}
	// A partition with more inputs than one group takes (groups) is
	// merged group after group (in input order), each group into files of
	// its own, sharing the set of event_uuids kept.
	for _, g := range groups(r.inputs, opts) {
		if err := mergeGroup(ctx, fsys, r.inputs[g[0]:g[1]], g[0], opts, seen, w, out); err != nil {
			return nil, err
		}
		if err := w.cut(); err != nil {
			return nil, err
		}
	}
	if err := w.finish(); err != nil {
		return nil, err
	}
	out.files, out.written = w.files, w.written
	return out, nil
}

// groups cuts inputs into the groups merged at once, as [lo, hi) ranges
// in input order: a group takes any inputs while it has fewer than
// MaxInputs, and beyond that small ones (at most ChunkRows rows) while its
// small inputs' stored bytes stay within GroupBytes (this partition's share).
func groups(inputs []input, opts CompactOptions) [][2]int {
	var out [][2]int
	lo, bytes := 0, int64(0)
	for i, in := range inputs {
		small := in.file.Count() <= int64(opts.ChunkRows)
		if n := i - lo; n > 0 && n >= opts.MaxInputs &&
			(opts.GroupBytes < 0 || !small || bytes+in.file.FileSizeBytes() > opts.GroupBytes) {
			out = append(out, [2]int{lo, i})
			lo, bytes = i, 0
		}
		if small {
			bytes += in.file.FileSizeBytes()
		}
	}
	if lo < len(inputs) {
		out = append(out, [2]int{lo, len(inputs)})
	}
	return out
}

// mergeGroup merges a group of inputs (the first has number first) into w.
func mergeGroup(ctx context.Context, fsys iceio.IO, group []input, first int, opts CompactOptions, seen map[string]struct{}, w *outWriter, out *merged) error {
	h := &mergeHeap{}
	defer func() {
		for _, s := range h.all {
			s.close()
		}
	}()
	for i, in := range group {
		// A file of at most ChunkRows rows is read whole and closed at
		// once; a bigger one ChunkRows rows at a time.
		batch := int(min(int64(opts.ChunkRows), max(in.file.Count(), 1)))
		s, err := openSource(ctx, fsys, in.file.FilePath(), first+i, in.file.Count(), batch)
		if err != nil {
			return err
		}
		h.all = append(h.all, s)
		ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			h.items = append(h.items, s)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		s := h.items[0]
		row := s.row()
		if _, dup := seen[row.EventUUID]; dup {
			out.duplicates++
		} else {
			seen[row.EventUUID] = struct{}{}
			out.rows++
			if err := w.add(row); err != nil {
				return err
			}
		}
		ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

// source is one input file being read in order: a batch of rows at a time,
// copied out of Arrow (one string per column and batch, which the rows'
// strings slice), so that the reader's buffers go at once, and a file read
// to its end is closed.
type source struct {
	path  string
	order int // its place in the round's inputs
	f     io.Closer
	rr    pqarrow.RecordReader // nil once closed
	rows  []lake.Row
	ts    []int64 // created_datetime of rows, µs
	pos   int     // current row
	read  int64   // rows loaded before this batch
	total int64   // rows in the file, from the manifest
	first bool
}

func openSource(ctx context.Context, fsys iceio.IO, path string, order int, total int64, batch int) (*source, error) {
	f, rd, err := openParquet(fsys, path)
	if err != nil {
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(rd, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, memory.DefaultAllocator)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	return &source{path: path, order: order, f: f, rr: rr, pos: -1, total: total, first: true}, nil
}

func openParquet(fsys iceio.IO, path string) (io.Closer, *file.Reader, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("table: open %s: %w", path, err)
	}
	rd, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	return f, rd, nil
}

// next moves to the next row; false at the end of the file.
func (s *source) next() (bool, error) {
	s.pos++
	if s.pos >= len(s.rows) {
		if err := s.load(); err != nil {
			return false, err
		}
		if len(s.rows) == 0 {
			return false, nil
		}
	}
	return true, nil
}

// load reads the next batch into rows (none at the end) and closes the
// file once it has been read to its end.
func (s *source) load() error {
	var last int64
	if n := len(s.ts); n > 0 {
		last = s.ts[n-1]
	}
	s.read += int64(len(s.rows))
	clear(s.rows)
	s.rows, s.ts, s.pos = s.rows[:0], s.ts[:0], 0
	if s.rr == nil {
		return nil
	}
	if !s.rr.Next() {
		err := s.rr.Err()
		s.close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("table: read %s: %w", s.path, err)
		}
		return nil
	}
	if err := s.copyRows(s.rr.RecordBatch()); err != nil {
		return fmt.Errorf("table: read %s: %w", s.path, err)
	}
	for i, ts := range s.ts {
		if (i > 0 && ts < s.ts[i-1]) || (i == 0 && !s.first && ts < last) {
			return fmt.Errorf("table: data file %s is not sorted by %s (row %d); compaction merges sorted files",
				s.path, ColDatetime, s.read+int64(i))
		}
	}
	s.first = false
	if s.read+int64(len(s.rows)) >= s.total {
		s.close() // read whole: let its buffers go now
	}
	return nil
}

// rowCols are the columns of a record, by role.
type rowCols struct {
	uuid, name, typ, subtype, created, event strCol
	dt                                       *array.Timestamp
	unit                                     arrow.TimeUnit
}

// strCol is a string column: array.String or array.LargeString.
type strCol interface {
	Value(int) string
	IsNull(int) bool
}

// copyRows copies a record's rows into s.rows and s.ts.
func (s *source) copyRows(rec arrow.RecordBatch) error {
	c, err := columnsOf(rec)
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	s.rows = slices.Grow(s.rows, n)[:n]
	s.ts = slices.Grow(s.ts, n)[:n]
	for _, col := range []struct {
		c   strCol
		set func(*lake.Row, string)
	}{
		{c.uuid, func(r *lake.Row, v string) { r.EventUUID = v }},
		{c.name, func(r *lake.Row, v string) { r.EventName = v }},
		{c.typ, func(r *lake.Row, v string) { r.EventType = v }},
		{c.subtype, func(r *lake.Row, v string) { r.EventSubtype = v }},
		{c.created, func(r *lake.Row, v string) { r.CreatedAt = v }},
		{c.event, func(r *lake.Row, v string) { r.Event = v }},
	} {
		copyStrings(col.c, n, func(i int, v string) { col.set(&s.rows[i], v) })
	}
	mult, div := int64(1), int64(1)
	switch c.unit {
	case arrow.Second:
		mult = 1e6
	case arrow.Millisecond:
		mult = 1e3
	case arrow.Nanosecond:
		div = 1e3
	}
	for i := range n {
		ts := int64(c.dt.Value(i)) * mult / div
		s.ts[i] = ts
		s.rows[i].CreatedDatetime = time.UnixMicro(ts).UTC()
	}
	return nil
}

// copyStrings hands out the n values of a string column, copied: for
// array.String, one string holding the column's bytes, sliced per value.
func copyStrings(c strCol, n int, set func(int, string)) {
	if a, ok := c.(*array.String); ok {
		off := a.ValueOffsets()
		all := string(a.ValueBytes())
		base := off[0]
		for i := range n {
			if !a.IsNull(i) {
				set(i, all[off[i]-base:off[i+1]-base])
			}
		}
		return
	}
	for i := range n {
		if !c.IsNull(i) {
			set(i, strings.Clone(c.Value(i)))
		}
	}
}

// row is the current row.
func (s *source) row() lake.Row { return s.rows[s.pos] }

func (s *source) close() {
	if s.rr != nil {
		s.rr.Release()
		s.f.Close()
		s.rr = nil
	}
}

// columnsOf finds the table's columns in a record by name.
func columnsOf(rec arrow.RecordBatch) (rowCols, error) {
	var c rowCols
	strs := map[string]*strCol{ColUUID: &c.uuid, ColName: &c.name, ColType: &c.typ, ColSubtype: &c.subtype, ColCreated: &c.created, ColEvent: &c.event}
	for i, f := range rec.Schema().Fields() {
		if dst, ok := strs[f.Name]; ok {
			sc, ok := rec.Column(i).(strCol)
			if !ok {
				return c, fmt.Errorf("column %s is %s, want a string", f.Name, f.Type)
			}
			*dst = sc
			delete(strs, f.Name)
			continue
		}
		if f.Name == ColDatetime {
			ts, ok := rec.Column(i).(*array.Timestamp)
			if !ok {
				return c, fmt.Errorf("column %s is %s, want a timestamp", f.Name, f.Type)
			}
			c.dt, c.unit = ts, f.Type.(*arrow.TimestampType).Unit
		}
	}
	for name := range strs {
		return c, fmt.Errorf("no column %s", name)
	}
	if c.dt == nil {
		return c, fmt.Errorf("no column %s", ColDatetime)
	}
	if c.uuid.(arrow.Array).NullN() > 0 {
		return c, fmt.Errorf("column %s holds nulls", ColUUID)
	}
	return c, nil
}

// readUUIDs adds the event_uuids of a data file to seen, reading that
// column only.
func readUUIDs(ctx context.Context, fsys iceio.IO, path string, seen map[string]struct{}) error {
	f, rd, err := openParquet(fsys, path)
	if err != nil {
		return err
	}
	defer f.Close()
	col := rd.MetaData().Schema.ColumnIndexByName(ColUUID)
	if col < 0 {
		return fmt.Errorf("table: data file %s has no column %s", path, ColUUID)
	}
	fr, err := pqarrow.NewFileReader(rd, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("table: read %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, []int{col}, nil)
	if err != nil {
		return fmt.Errorf("table: read %s: %w", path, err)
	}
	defer rr.Release()
	for rr.Next() {
		c, ok := rr.RecordBatch().Column(0).(strCol)
		if !ok {
			return fmt.Errorf("table: %s: column %s is not a string", path, ColUUID)
		}
		for i := 0; i < int(rr.RecordBatch().NumRows()); i++ {
			seen[strings.Clone(c.Value(i))] = struct{}{}
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("table: read %s: %w", path, err)
	}
	return nil
}

// mergeHeap orders sources by their current row: created_datetime, then
// input order (row order within a source is kept by reading it in order).
type mergeHeap struct {
	items []*source
	all   []*source
}

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if ta, tb := a.ts[a.pos], b.ts[b.pos]; ta != tb {
		return ta < tb
	}
	return a.order < b.order
}
func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)    { h.items = append(h.items, x.(*source)) }
func (h *mergeHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

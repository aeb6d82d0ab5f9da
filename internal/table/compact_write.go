package table

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"

	"github.com/eventlake/eventlake/internal/lake"
)

// The merge's output: files written with the landing's encoder (encode.go),
// streaming, cut at the target size.

// outWriter writes a round's output files, streaming: rows are encoded a
// chunk at a time into a buffered row group, and a file is closed once it
// reaches the target size.
type outWriter struct {
	ctx context.Context
	tbl *itable.Table
	target
	r    *round
	opts CompactOptions
	idx  []int // 0..ChunkRows-1

	chunk []lake.Row
	views []fileRow // encode's buffer
	// the open file
	pw       *parquet.GenericWriter[fileRow]
	fw       iceio.FileWriter
	cw       *countWriter
	loc, tmp string

	files   []iceberg.DataFile
	written int
}

func newOutWriter(ctx context.Context, tbl *itable.Table, r *round, opts CompactOptions) (*outWriter, error) {
	tg, err := newTarget(ctx, tbl, compactCodec)
	if err != nil {
		return nil, err
	}
	w := &outWriter{ctx: ctx, tbl: tbl, target: tg, r: r, opts: opts,
		chunk: make([]lake.Row, 0, opts.ChunkRows), idx: make([]int, opts.ChunkRows)}
	for i := range w.idx {
		w.idx[i] = i
	}
	return w, nil
}

// add buffers a row; a full chunk is encoded.
func (w *outWriter) add(row lake.Row) error {
	w.chunk = append(w.chunk, row)
	if len(w.chunk) < w.opts.ChunkRows {
		return nil
	}
	return w.flush()
}

// flush encodes the chunk into the open file (opening one if needed) and
// closes the file once it has reached the target size.
func (w *outWriter) flush() error {
	if len(w.chunk) == 0 {
		return nil
	}
	if w.pw == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	var err error
	w.views, err = writeRows(w.pw, w.views, w.chunk, w.idx[:len(w.chunk)])
	clear(w.chunk) // drop the views of the inputs' records
	w.chunk = w.chunk[:0]
	if err != nil {
		return fmt.Errorf("table: parquet %s: %w", w.loc, err)
	}
	// The pages being filled are compressed now, so that Size counts
	// stored bytes: written, plus the row group's compressed pages and
	// its dictionaries (uncompressed, a few KiB, less than the page
	// indexes and footer that close adds).
	for _, c := range w.pw.ColumnWriters() {
		if err := c.Flush(); err != nil {
			return fmt.Errorf("table: parquet %s: %w", w.loc, err)
		}
	}
	if w.pw.Size() >= w.opts.TargetSize {
		return w.close()
	}
	return nil
}

// open starts output file number len(w.files): written aside and renamed
// into place on a local folder, as put does.
func (w *outWriter) open() error {
	rel := w.r.folder + "/compacted." + w.r.id + "." + strconv.Itoa(len(w.files)) + ".parquet"
	if err := checkRel(rel); err != nil {
		return err
	}
	w.loc = w.lp.NewDataLocation(rel)
	if !strings.HasSuffix(w.loc, "/"+rel) {
		return fmt.Errorf("table: data file %s was placed at %s", rel, w.loc)
	}
	if err := step(w.ctx, w.opts.step, "write "+rel); err != nil {
		return err
	}
	wfs, ok := w.fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("table: the table's file system %T cannot write", w.fsys)
	}
	w.tmp = w.loc
	if _, ok := w.fsys.(iceio.RenameIO); ok {
		var nonce [8]byte
		rand.Read(nonce[:])
		w.tmp = w.loc + ".tmp-" + hex.EncodeToString(nonce[:])
	}
	fw, err := wfs.Create(w.tmp)
	if err != nil {
		return fmt.Errorf("table: create %s: %w", w.tmp, err)
	}
	w.fw, w.cw = fw, &countWriter{w: fw}
	w.pw = w.ff.newWriter(w.cw)
	return nil
}

// close finishes the open file, puts it in place and describes it.
func (w *outWriter) close() error {
	pw := w.pw
	w.pw = nil
	if err := pw.Close(); err != nil {
		return fmt.Errorf("table: parquet %s: %w", w.loc, err)
	}
	fw := w.fw
	w.fw = nil
	if err := fw.Close(); err != nil {
		return fmt.Errorf("table: write %s: %w", w.tmp, err)
	}
	size := w.cw.n
	found := false
	if w.tmp != w.loc {
		if st, ok := w.fsys.(iceio.StatIO); ok {
			fi, err := st.Stat(w.loc)
			switch {
			case err == nil && fi.Size() == size:
				found = true // an earlier attempt's: same name, same bytes
			case err != nil && !errors.Is(err, iofs.ErrNotExist):
				return fmt.Errorf("table: stat %s: %w", w.loc, err)
			}
		}
		// Renamed over an earlier attempt's file too: the fresh
		// modification time keeps DeleteOrphans' grace from running out
		// under a round that reuses it.
		if err := w.fsys.(iceio.RenameIO).Rename(w.tmp, w.loc); err != nil {
			w.fsys.Remove(w.tmp)
			return fmt.Errorf("table: rename %s: %w", w.loc, err)
		}
	}
	w.tmp = ""
	if !found {
		w.written++
	}
	// The footer, read back for DataFileFromMetadata (which takes
	// arrow-go's): a few KiB at the end of the file.
	f, rd, err := openParquet(w.fsys, w.loc)
	if err != nil {
		return err
	}
	md := rd.MetaData()
	f.Close()
	df, err := itable.DataFileFromMetadata(itable.DataFileArgs{
		Schema: w.tbl.Schema(), Spec: w.tbl.Spec(), Format: iceberg.ParquetFile, Metadata: md,
		FilePath: w.loc, FileSize: size, Content: iceberg.EntryContentData,
		PartitionValues: w.r.inputs[0].file.Partition(), SortOrderID: w.sortID,
		Properties: w.tbl.Properties(), FormatVersion: w.tbl.Metadata().Version(),
	})
	if err != nil {
		return fmt.Errorf("table: describe %s: %w", w.loc, err)
	}
	w.files = append(w.files, df)
	return nil
}

// cut writes the last chunk and closes the open file: the next rows start
// a new one.
func (w *outWriter) cut() error { return w.finish() }

// finish writes the last chunk and closes the last file.
func (w *outWriter) finish() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.pw != nil {
		return w.close()
	}
	return nil
}

// abort removes a file left half written by an error.
func (w *outWriter) abort() {
	w.pw = nil
	if w.fw != nil {
		w.fw.Close()
		w.fw = nil
	}
	if w.tmp != "" && w.tmp != w.loc {
		w.fsys.Remove(w.tmp)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

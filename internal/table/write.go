package table

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go/compress"

	"golang.org/x/sync/errgroup"

	"github.com/eventlake/eventlake/internal/lake"
)

// part is one partition of a batch: its partition values, the rows in it
// and the data file they go to.
type part struct {
	values map[int]any // partition field id -> transform result
	rel    string      // below the data folder: segments and file name
	rows   []int       // indexes into Batch.Rows, sorted by created_datetime

	// set by writeFiles
	file  iceberg.DataFile
	size  int64
	wrote bool      // written by this call, not found in place
	found time.Time // when wrote is false: the modification time of the file found
}

// plan groups a batch's rows by the partition the table's spec puts them
// in, and names each data file: <segments>/<batch name>.parquet. It does no
// I/O.
func plan(tbl *itable.Table, b *Batch, name string) ([]*part, error) {
	spec, sc := tbl.Spec(), tbl.Schema()
	fields := make([]planField, 0, spec.NumFields())
	for _, pf := range spec.Fields() {
		src, ok := sc.FindFieldByID(pf.SourceID())
		if !ok || getter(src.Name) == nil {
			return nil, fmt.Errorf("table: partition field %s has a source column Commit does not write", pf.Name)
		}
		fields = append(fields, planField{pf, src.Name, src.Type})
	}
	// Rows of the same event_type and hour share a partition when every
	// field is a transform of event_type, or a time transform no finer
	// than an hour of created_datetime (the table's own spec is): those
	// rows skip the transforms.
	type typeHour struct {
		typ  string
		hour int64
	}
	var byTypeHour map[typeHour]*part
	if coarse(fields) {
		byTypeHour = map[typeHour]*part{}
	}
	byKey := map[string]*part{}
	var parts []*part
	var key strings.Builder
	segs := make([]string, len(fields))
	// Each field's human string of a value, made once: formatting a day
	// per row cost as much as the sort (transform results are strings
	// and integers, comparable).
	human := make([]map[any]string, len(fields))
	for i := range b.Rows {
		r := &b.Rows[i]
		var th typeHour
		if byTypeHour != nil {
			th = typeHour{r.EventType, floorDiv(r.CreatedDatetime.UnixMicro(), int64(time.Hour/time.Microsecond))}
			if p := byTypeHour[th]; p != nil {
				p.rows = append(p.rows, i)
				continue
			}
		}
		key.Reset()
		vals := make([]any, len(fields))
		for j, f := range fields {
			out := f.pf.Transform.Apply(iceberg.Optional[iceberg.Literal]{Val: literal(r, f.col), Valid: true})
			h := "\x00null"
			if out.Valid {
				vals[j] = out.Val.Any()
				var ok bool
				if h, ok = human[j][vals[j]]; !ok {
					h = f.pf.Transform.ToHumanStrType(f.typ, vals[j])
					if human[j] == nil {
						human[j] = map[any]string{}
					}
					human[j][vals[j]] = h
				}
			}
			segs[j] = h
			key.WriteString(strconv.Itoa(len(h)))
			key.WriteByte(':')
			key.WriteString(h)
		}
		p, ok := byKey[key.String()]
		if !ok {
			p = &part{values: map[int]any{}}
			dirs := make([]string, len(fields))
			for j, f := range fields {
				if vals[j] != nil {
					p.values[f.pf.FieldID] = vals[j]
				}
				dirs[j] = Segment(f.pf.Name, segs[j])
			}
			p.rel = strings.Join(append(dirs, name+".parquet"), "/")
			byKey[key.String()] = p
			parts = append(parts, p)
		}
		if byTypeHour != nil {
			byTypeHour[th] = p
		}
		p.rows = append(p.rows, i)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if err := checkRel(p.rel); err != nil {
			return nil, err
		}
		k := strings.ToLower(p.rel)
		if seen[k] {
			return nil, fmt.Errorf("table: two partitions of batch %s share the data file %s (a 64-bit hash collision)", name, p.rel)
		}
		seen[k] = true
		sortByTime(b.Rows, p.rows)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].rel < parts[j].rel })
	return parts, nil
}

// planField is a partition field: its source column's name and type.
type planField struct {
	pf  iceberg.PartitionField
	col string
	typ iceberg.Type
}

// coarse reports whether the partition of a row depends only on its
// event_type and the hour of its created_datetime: each field is a
// transform of event_type, or the hour, day, month or year of
// created_datetime.
func coarse(fields []planField) bool {
	for _, f := range fields {
		switch f.col {
		case ColType:
		case ColDatetime:
			switch f.pf.Transform.(type) {
			case iceberg.HourTransform, iceberg.DayTransform, iceberg.MonthTransform, iceberg.YearTransform:
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// sortByTime sorts increasing row indexes idx by the rows'
// created_datetime, stably: the index breaks ties, so pdqsort does, without
// the O(n log² n) moves of a stable sort.
func sortByTime(rows []lake.Row, idx []int) {
	slices.SortFunc(idx, func(x, y int) int {
		if c := rows[x].CreatedDatetime.Compare(rows[y].CreatedDatetime); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
}

// literal is the value of column col of r as an Iceberg literal.
func literal(r *lake.Row, col string) iceberg.Literal {
	if col == ColDatetime {
		return iceberg.TimestampLiteral(r.CreatedDatetime.UnixMicro())
	}
	return iceberg.StringLiteral(getter(col)(r))
}

// getter returns the string column col of a row, or nil if col is not one
// (created_datetime is the one typed column).
func getter(col string) func(*lake.Row) string {
	switch col {
	case ColUUID:
		return func(r *lake.Row) string { return r.EventUUID }
	case ColName:
		return func(r *lake.Row) string { return r.EventName }
	case ColType:
		return func(r *lake.Row) string { return r.EventType }
	case ColSubtype:
		return func(r *lake.Row) string { return r.EventSubtype }
	case ColCreated:
		return func(r *lake.Row) string { return r.CreatedAt }
	case ColEvent:
		return func(r *lake.Row) string { return r.Event }
	case ColDatetime:
		return func(*lake.Row) string { return "" }
	}
	return nil
}

// refreshFoundAfter: put writes a file found in place again once it is
// this old, so that a batch landed again (a staged batch the committer
// refused as too old: its files may be swept as orphans) gets young files
// instead of inheriting their age for ever; DeleteOrphans checks a file's
// age again just before removing it.
const refreshFoundAfter = DefaultMaxStagedAge / 2

// put stores a data file unless a file of the same size is already at loc:
// names carry the batch's identity and hash, so that is our file, left by
// an attempt that did not commit or by a concurrent commit of the same
// batch; one older than refreshFoundAfter is written again. It reports
// whether it wrote, and when not, the modification time of the file it
// found. On a local folder the file is written
// aside and renamed into place, so no reader ever sees part of it; object
// stores make an object visible whole, so there the file is written in
// place (iceberg-go's S3 IO would "rename" by copy and delete).
func put(fsys iceio.IO, loc string, data []byte) (bool, time.Time, error) {
	if st, ok := fsys.(iceio.StatIO); ok {
		fi, err := st.Stat(loc)
		switch {
		case err == nil && fi.Size() == int64(len(data)) && time.Since(fi.ModTime()) < refreshFoundAfter:
			return false, fi.ModTime(), nil
		case err != nil && !errors.Is(err, iofs.ErrNotExist):
			return false, time.Time{}, fmt.Errorf("table: stat %s: %w", loc, err)
		}
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return false, time.Time{}, fmt.Errorf("table: the table's file system %T cannot write", fsys)
	}
	rn, ok := fsys.(iceio.RenameIO)
	if !ok || !localFile(loc) {
		if err := wfs.WriteFile(loc, data); err != nil {
			return false, time.Time{}, fmt.Errorf("table: write %s: %w", loc, err)
		}
		return true, time.Time{}, nil
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	tmp := loc + ".tmp-" + hex.EncodeToString(nonce[:])
	if err := wfs.WriteFile(tmp, data); err != nil {
		fsys.Remove(tmp)
		return false, time.Time{}, fmt.Errorf("table: write %s: %w", tmp, err)
	}
	if err := rn.Rename(tmp, loc); err != nil {
		fsys.Remove(tmp)
		return false, time.Time{}, fmt.Errorf("table: rename %s: %w", loc, err)
	}
	return true, time.Time{}, nil
}

// localFile reports whether a location is on the local file system (a path
// or file://), where files are written aside and renamed into place.
func localFile(loc string) bool {
	return !strings.Contains(loc, "://") || strings.HasPrefix(loc, "file:")
}

// target is where and how a table's data files are written: the Parquet
// format of its columns, its file system, its location provider, and the
// sort order id a file sorted by created_datetime declares (0: unsorted).
type target struct {
	ff     fileFormat
	fsys   iceio.IO
	lp     itable.LocationProvider
	sortID int
}

func newTarget(ctx context.Context, tbl *itable.Table, codec compress.Codec) (target, error) {
	var tg target
	var err error
	if tg.ff, err = newFileFormat(tbl.Schema(), codec); err != nil {
		return tg, err
	}
	if tg.fsys, err = tbl.FS(ctx); err != nil {
		return tg, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	if tg.lp, err = tbl.LocationProvider(); err != nil {
		return tg, fmt.Errorf("table: locations: %w", err)
	}
	tg.sortID = sortOrderID(tbl)
	return tg, nil
}

// sortOrderID is the sort order a data file of ours claims: the table's,
// when it is created_datetime ascending (each file is sorted so), else 0
// (no claim).
func sortOrderID(tbl *itable.Table) int {
	if so := tbl.SortOrder(); so.Len() == 1 && so.Field(0).SourceID() == fieldID(tbl, ColDatetime) &&
		so.Field(0).Direction == itable.SortASC {
		return so.OrderID()
	}
	return 0
}

// writeFiles encodes and stores the data files of a batch, one core per
// file at a time, and describes each for the manifest. It is the only stage
// that writes data; the commit loop reuses what it returns.
func writeFiles(ctx context.Context, tbl *itable.Table, b *Batch, name string) ([]*part, error) {
	parts, err := plan(tbl, b, name)
	if err != nil {
		return nil, err
	}
	tg, err := newTarget(ctx, tbl, landingCodec)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, p := range parts {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			loc := tg.lp.NewDataLocation(p.rel)
			if !strings.HasSuffix(loc, "/"+p.rel) {
				return fmt.Errorf("table: data file %s was placed at %s", p.rel, loc)
			}
			data, md, err := tg.ff.encode(b.Rows, p.rows)
			if err != nil {
				return fmt.Errorf("%w (data file %s)", err, p.rel)
			}
			if p.wrote, p.found, err = put(tg.fsys, loc, data); err != nil {
				return err
			}
			p.size = int64(len(data))
			p.file, err = itable.DataFileFromMetadata(itable.DataFileArgs{
				Schema: tbl.Schema(), Spec: tbl.Spec(), Format: iceberg.ParquetFile, Metadata: md,
				FilePath: loc, FileSize: int64(len(data)), Content: iceberg.EntryContentData,
				PartitionValues: p.values, SortOrderID: tg.sortID, Properties: tbl.Properties(),
				FormatVersion: tbl.Metadata().Version(),
			})
			if err != nil {
				return fmt.Errorf("table: describe %s: %w", loc, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return parts, nil
}

// dataFiles are the descriptions of the parts' files, for the manifest.
func dataFiles(parts []*part) []iceberg.DataFile {
	files := make([]iceberg.DataFile, len(parts))
	for i, p := range parts {
		files[i] = p.file
	}
	return files
}

// written counts the parts whose files writeFiles wrote (not found).
func written(parts []*part) int {
	n := 0
	for _, p := range parts {
		if p.wrote {
			n++
		}
	}
	return n
}

func fieldID(tbl *itable.Table, col string) int {
	f, ok := tbl.Schema().FindFieldByName(col)
	if !ok {
		return -1
	}
	return f.ID
}

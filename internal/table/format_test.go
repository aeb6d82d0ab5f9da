package table

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
)

// The Iceberg files, as the table spec defines them, decoded without
// iceberg-go: the metadata JSON with encoding/json, the manifest list and
// the manifests with an independent Avro reader (hamba/avro; iceberg-go
// writes them with twmb/avro).

type metadataJSON struct {
	FormatVersion     int               `json:"format-version"`
	TableUUID         string            `json:"table-uuid"`
	Location          string            `json:"location"`
	CurrentSchemaID   int               `json:"current-schema-id"`
	CurrentSnapshotID int64             `json:"current-snapshot-id"`
	DefaultSpecID     int               `json:"default-spec-id"`
	DefaultSortOrder  int               `json:"default-sort-order-id"`
	Properties        map[string]string `json:"properties"`
	Schemas           []struct {
		SchemaID int `json:"schema-id"`
		Fields   []struct {
			ID       int    `json:"id"`
			Name     string `json:"name"`
			Required bool   `json:"required"`
			Type     string `json:"type"`
		} `json:"fields"`
	} `json:"schemas"`
	PartitionSpecs []struct {
		SpecID int `json:"spec-id"`
		Fields []struct {
			SourceID  int    `json:"source-id"`
			FieldID   int    `json:"field-id"`
			Name      string `json:"name"`
			Transform string `json:"transform"`
		} `json:"fields"`
	} `json:"partition-specs"`
	SortOrders []struct {
		OrderID int `json:"order-id"`
		Fields  []struct {
			SourceID  int    `json:"source-id"`
			Transform string `json:"transform"`
			Direction string `json:"direction"`
			NullOrder string `json:"null-order"`
		} `json:"fields"`
	} `json:"sort-orders"`
	Snapshots []struct {
		SnapshotID     int64             `json:"snapshot-id"`
		ParentID       *int64            `json:"parent-snapshot-id"`
		SequenceNumber int64             `json:"sequence-number"`
		ManifestList   string            `json:"manifest-list"`
		Summary        map[string]string `json:"summary"`
	} `json:"snapshots"`
}

// manifestFile is a manifest list entry (spec: manifest_file, v2).
type manifestFile struct {
	Path            string `avro:"manifest_path"`
	Length          int64  `avro:"manifest_length"`
	SpecID          int32  `avro:"partition_spec_id"`
	Content         int32  `avro:"content"`
	AddedSnapshotID int64  `avro:"added_snapshot_id"`
	AddedFiles      int32  `avro:"added_files_count"`
	ExistingFiles   int32  `avro:"existing_files_count"`
	AddedRows       int64  `avro:"added_rows_count"`
	ExistingRows    int64  `avro:"existing_rows_count"`
}

// manifestEntry is a manifest entry (spec: manifest_entry, v2).
type manifestEntry struct {
	Status     int32  `avro:"status"`
	SnapshotID *int64 `avro:"snapshot_id"`
	DataFile   struct {
		Content   int32  `avro:"content"`
		Path      string `avro:"file_path"`
		Format    string `avro:"file_format"`
		Partition struct {
			EventType *string    `avro:"event_type"`
			Day       *time.Time `avro:"created_datetime_day"`
		} `avro:"partition"`
		Records     int64       `avro:"record_count"`
		Size        int64       `avro:"file_size_in_bytes"`
		LowerBounds []avroBound `avro:"lower_bounds"`
		UpperBounds []avroBound `avro:"upper_bounds"`
		SortOrder   *int32      `avro:"sort_order_id"`
	} `avro:"data_file"`
}

type avroBound struct {
	Key   int32  `avro:"key"`
	Value []byte `avro:"value"`
}

func readAvro[T any](t *testing.T, loc string) (map[string][]byte, []T) {
	t.Helper()
	data, err := os.ReadFile(localPath(t, loc))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := ocf.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	var out []T
	for dec.HasNext() {
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		out = append(out, v)
	}
	if err := dec.Error(); err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	return dec.Metadata(), out
}

// TestIcebergFiles checks the table's files against the Iceberg spec
// with readers that share no code with iceberg-go.
func TestIcebergFiles(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	tb := open(t, wh)
	rows := genRows(t, 3000, 11)
	for _, b := range batches("spec", rows, 1000) {
		commit(t, tb, b)
	}
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(localPath(t, tbl.MetadataLocation()))
	if err != nil {
		t.Fatal(err)
	}
	var md metadataJSON
	if err := json.Unmarshal(raw, &md); err != nil {
		t.Fatal(err)
	}
	if md.FormatVersion != 2 || md.TableUUID == "" || !strings.HasSuffix(md.Location, "/eventlake.db/events") {
		t.Fatalf("metadata: version %d, uuid %q, location %q", md.FormatVersion, md.TableUUID, md.Location)
	}
	var cols []string
	var fields []tableField
	for _, f := range md.Schemas[md.CurrentSchemaID].Fields {
		cols = append(cols, f.Name+":"+f.Type+map[bool]string{true: "!", false: ""}[f.Required])
		fields = append(fields, tableField{ID: f.ID, Name: f.Name, Required: f.Required, Type: f.Type})
	}
	if got := strings.Join(cols, " "); got != "event_uuid:string! event_name:string event_type:string event_subtype:string created_at:string created_datetime:timestamptz event:string" {
		t.Fatalf("schema %s", got)
	}
	spec := md.PartitionSpecs[md.DefaultSpecID].Fields
	if len(spec) != 2 || spec[0].Name != "event_type" || spec[0].Transform != "identity" || spec[0].SourceID != 3 ||
		spec[1].Name != "created_datetime_day" || spec[1].Transform != "day" || spec[1].SourceID != 6 {
		t.Fatalf("partition spec %+v", spec)
	}
	var order []string
	for _, so := range md.SortOrders {
		if so.OrderID == md.DefaultSortOrder {
			for _, f := range so.Fields {
				order = append(order, f.Transform, f.Direction, f.NullOrder)
				if f.SourceID != 6 {
					t.Fatalf("sorted by field %d", f.SourceID)
				}
			}
		}
	}
	if strings.Join(order, " ") != "identity asc nulls-first" {
		t.Fatalf("sort order %v", order)
	}
	if md.Properties["commit.retry.num-retries"] != "0" {
		t.Fatalf("properties %v", md.Properties)
	}

	// Snapshots: three appends, each naming its batch, each the parent of
	// the next.
	if len(md.Snapshots) != 3 {
		t.Fatalf("%d snapshots", len(md.Snapshots))
	}
	var manifestList string
	for i, s := range md.Snapshots {
		wantBatch := []string{"spec/0000000001-0000001000", "spec/0000001001-0000002000", "spec/0000002001-0000003000"}[i]
		if s.Summary["operation"] != "append" || s.Summary["eventlake.batch"] != wantBatch || s.Summary["added-records"] != "1000" {
			t.Fatalf("snapshot %d summary %v", i, s.Summary)
		}
		if (i == 0) != (s.ParentID == nil) || i > 0 && *s.ParentID != md.Snapshots[i-1].SnapshotID {
			t.Fatalf("snapshot %d parent %v", i, s.ParentID)
		}
		if s.SnapshotID == md.CurrentSnapshotID {
			manifestList = s.ManifestList
		}
	}

	// The manifest list and the manifests.
	_, manifests := readAvro[manifestFile](t, manifestList)
	if len(manifests) == 0 {
		t.Fatal("empty manifest list")
	}
	var records int64
	files := 0
	for _, m := range manifests {
		if m.Content != 0 {
			t.Fatalf("manifest %s content %d, want data", m.Path, m.Content)
		}
		meta, entries := readAvro[manifestEntry](t, m.Path)
		if string(meta["format-version"]) != "2" || string(meta["content"]) != "data" ||
			!strings.Contains(string(meta["partition-spec"]), `"transform":"day"`) || len(meta["schema"]) == 0 {
			t.Fatalf("manifest %s metadata: format-version %q content %q spec %q", m.Path,
				meta["format-version"], meta["content"], meta["partition-spec"])
		}
		if int(m.AddedFiles+m.ExistingFiles) != len(entries) {
			t.Fatalf("manifest %s lists %d+%d files, holds %d", m.Path, m.AddedFiles, m.ExistingFiles, len(entries))
		}
		for _, e := range entries {
			df := e.DataFile
			if e.Status == 2 {
				continue // deleted
			}
			if df.Content != 0 || df.Format != "PARQUET" || df.Partition.EventType == nil || df.Partition.Day == nil {
				t.Fatalf("entry %+v", e)
			}
			wantDir := "/data/event_type=" + *df.Partition.EventType + "/created_datetime_day=" + df.Partition.Day.UTC().Format("2006-01-02") + "/"
			if !strings.Contains(df.Path, wantDir) {
				t.Fatalf("data file %s is not in %s", df.Path, wantDir)
			}
			fi, err := os.Stat(localPath(t, df.Path))
			if err != nil || fi.Size() != df.Size {
				t.Fatalf("data file %s: %v, size %d, manifest says %d", df.Path, err, fi.Size(), df.Size)
			}
			checkDataFile(t, localPath(t, df.Path), fields)
			if df.SortOrder == nil || *df.SortOrder != 1 {
				t.Fatalf("data file %s sort order %v, want 1 (created_datetime)", df.Path, df.SortOrder)
			}
			bounds := map[int32][2][]byte{}
			for _, b := range df.LowerBounds {
				bounds[b.Key] = [2][]byte{b.Value, nil}
			}
			for _, b := range df.UpperBounds {
				bounds[b.Key] = [2][]byte{bounds[b.Key][0], b.Value}
			}
			if b := bounds[3]; string(b[0]) != *df.Partition.EventType || string(b[1]) != *df.Partition.EventType {
				t.Fatalf("data file %s event_type bounds %q, want the partition's", df.Path, b)
			}
			if _, ok := bounds[6]; !ok {
				t.Fatalf("data file %s has no created_datetime bounds", df.Path)
			}
			if _, ok := bounds[7]; ok {
				t.Fatalf("data file %s has bounds of the whole event", df.Path)
			}
			records += df.Records
			files++
		}
	}
	if records != 3000 {
		t.Fatalf("manifests count %d records in %d files, want 3000", records, files)
	}
}

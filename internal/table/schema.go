package table

import (
	"fmt"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
)

// Columns of the table, in schema order: the typed columns of lake.Row.
const (
	ColUUID     = "event_uuid"
	ColName     = "event_name"
	ColType     = "event_type"
	ColSubtype  = "event_subtype"
	ColCreated  = "created_at"
	ColDatetime = "created_datetime"
	ColEvent    = "event"
)

// Summary properties that eventlake writes on each snapshot it commits.
// PropBatch names the batch ("source/first-last"); the three parts are
// also kept apart, as are the hash of its rows, because positions may hold
// '-'.
const (
	PropBatch       = "eventlake.batch"
	PropBatchSource = "eventlake.batch.source"
	PropBatchFirst  = "eventlake.batch.first"
	PropBatchLast   = "eventlake.batch.last"
	PropBatchHash   = "eventlake.batch.hash"
)

// Definition is the schema, partition spec and sort order of a new table:
// identity(event_type) and day(created_datetime), or hour(created_datetime)
// when hourly; sorted by created_datetime.
func Definition(hourly bool) (*iceberg.Schema, iceberg.PartitionSpec, itable.SortOrder) {
	str := iceberg.PrimitiveTypes.String
	sc := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: ColUUID, Type: str, Required: true},
		iceberg.NestedField{ID: 2, Name: ColName, Type: str},
		iceberg.NestedField{ID: 3, Name: ColType, Type: str},
		iceberg.NestedField{ID: 4, Name: ColSubtype, Type: str},
		iceberg.NestedField{ID: 5, Name: ColCreated, Type: str, Doc: "as sent: seconds, milliseconds, ... or a numeric string"},
		iceberg.NestedField{ID: 6, Name: ColDatetime, Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 7, Name: ColEvent, Type: str, Doc: "the whole enriched event, JSON"},
	)
	var timeField iceberg.PartitionField
	if hourly {
		timeField = iceberg.PartitionField{SourceIDs: []int{6}, FieldID: 1001, Name: ColDatetime + "_hour", Transform: iceberg.HourTransform{}}
	} else {
		timeField = iceberg.PartitionField{SourceIDs: []int{6}, FieldID: 1001, Name: ColDatetime + "_day", Transform: iceberg.DayTransform{}}
	}
	spec := iceberg.NewPartitionSpec(
		iceberg.PartitionField{SourceIDs: []int{3}, FieldID: 1000, Name: ColType, Transform: iceberg.IdentityTransform{}},
		timeField,
	)
	order, err := itable.NewSortOrder(1, []itable.SortField{{
		SourceIDs: []int{6}, Transform: iceberg.IdentityTransform{},
		Direction: itable.SortASC, NullOrder: itable.NullsFirst,
	}})
	if err != nil {
		panic(err) // a constant order
	}
	return sc, spec, order
}

// Properties are the table properties of a new table.
func Properties() iceberg.Properties {
	return iceberg.Properties{
		itable.PropertyFormatVersion: "2",
		// Our commit loop reloads, checks the batch is not yet in the
		// table, then tries again; iceberg-go's own retries would replay
		// the append without that check (Commit refuses a table that
		// enables them).
		itable.CommitNumRetriesKey: "0",
		// Merge small manifests as commits accumulate (one per batch).
		itable.ManifestMergeEnabledKey: "true",
		// Keep the last 100 metadata files, delete older ones.
		itable.MetadataDeleteAfterCommitEnabledKey: "true",
		itable.ParquetCompressionKey:               "zstd",
		// The whole event needs no column bounds in manifests.
		"write.metadata.metrics.column." + ColEvent: "counts",
	}
}

// checkSchema refuses a table whose columns are not the ones Commit
// writes: a name missing or of another type.
func checkSchema(sc *iceberg.Schema) error {
	want, _, _ := Definition(false)
	for _, f := range want.Fields() {
		got, ok := sc.FindFieldByName(f.Name)
		if !ok {
			return fmt.Errorf("table: the table has no column %s", f.Name)
		}
		if !got.Type.Equals(f.Type) {
			return fmt.Errorf("table: column %s is %s, want %s", f.Name, got.Type, f.Type)
		}
	}
	return nil
}

package lake

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// AthenaIceberg is what an Athena user needs for eventlake's Iceberg table
// registered in Glue as table (database.name): queries, time travel,
// OPTIMIZE ... REWRITE DATA USING BIN_PACK and VACUUM, and the CREATE TABLE
// of a new, empty table of the same columns and partitioning at location
// (s3://bucket/prefix; the table goes below it, at
// <location>/<database>.db/<name>/, where iceberg-go's catalogs put it).
// The columns are Row's, which the table holds (internal/table's schema;
// a test there checks they agree), partitioned by identity(event_type) and
// day(created_datetime), or hour(created_datetime) when hourly.
// docs/iceberg.md, "Reading the table".
func AthenaIceberg(table, location string, hourly bool) string {
	location = strings.TrimSuffix(location, "/")
	db, name, ok := strings.Cut(table, ".")
	if !ok {
		db, name = "default", table
	}
	transform := "day"
	if hourly {
		transform = "hour"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `-- eventlake's Iceberg table %[1]s as Athena (engine version 3) reads it once it is
-- registered in the Glue Data Catalog. Athena reads the current snapshot; the same SQL
-- runs locally with: eventlake query --iceberg --lake DIR "SELECT ... FROM events ...".

SELECT event_type, count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids
FROM %[1]s
WHERE created_datetime >= TIMESTAMP '2026-11-01 00:00:00 UTC'
GROUP BY event_type
ORDER BY events DESC;

-- Time travel, as eventlake query --iceberg --snapshot ID / --as-of TIME:
SELECT count(*) FROM %[1]s FOR VERSION AS OF 1234567890123456789;
SELECT count(*) FROM %[1]s FOR TIMESTAMP AS OF TIMESTAMP '2026-11-29 01:30:00 UTC';

-- Compaction: rewrite small data files into larger ones (a snapshot of its own; the rows do
-- not change, duplicates are kept). The WHERE clause may name partition columns only.
OPTIMIZE %[1]s REWRITE DATA USING BIN_PACK WHERE event_type = 'payment';
OPTIMIZE %[1]s REWRITE DATA USING BIN_PACK;

-- Expire snapshots older than vacuum_max_snapshot_age_seconds (Athena's default: 432000,
-- 5 days) and remove orphan files. Time travel ends there, and so does eventlake's
-- exactly-once window: a batch replayed after its snapshot expired lands again. Keep
-- snapshots at least as long as a replay can happen (Kinesis retention), e.g. 30 days:
ALTER TABLE %[1]s SET TBLPROPERTIES ('vacuum_max_snapshot_age_seconds' = '2592000');
VACUUM %[1]s;

-- A new, empty Iceberg table of the same columns and partitioning, created by Athena.
-- Athena's DDL writes Iceberg timestamp (without time zone) only, so its created_datetime
-- is not the timestamptz eventlake writes: eventlake refuses to land into this table (it
-- lands into the table it creates itself). It is for Athena writers, e.g. INSERT INTO ...
-- SELECT from the Hive-style lake's view.
CREATE TABLE %[1]s (
`, table)
	var cols []string
	for _, c := range athenaColumns() {
		cols = append(cols, "  "+c[0]+" "+c[1])
	}
	b.WriteString(strings.Join(cols, ",\n") + "\n)\n")
	fmt.Fprintf(&b, "PARTITIONED BY (event_type, %s(created_datetime))\n", transform)
	fmt.Fprintf(&b, "LOCATION '%s/%s.db/%s/'\n", location, db, name)
	b.WriteString("TBLPROPERTIES (\n  'table_type' = 'ICEBERG',\n  'format' = 'parquet',\n  'write_compression' = 'zstd'\n);\n")
	return b.String()
}

// athenaColumns are Row's columns, in order, with their Athena types:
// string, and timestamp for the time.Time.
func athenaColumns() [][2]string {
	var cols [][2]string
	rt := reflect.TypeFor[Row]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		typ := "string"
		if f.Type == reflect.TypeFor[time.Time]() {
			typ = "timestamp"
		} else if f.Type.Kind() != reflect.String {
			panic(fmt.Sprintf("lake.Row.%s: no Athena type for %s", f.Name, f.Type))
		}
		cols = append(cols, [2]string{name, typ})
	}
	return cols
}

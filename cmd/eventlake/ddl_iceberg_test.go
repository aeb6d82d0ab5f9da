//go:build iceberg

package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"

	"github.com/eventlake/eventlake/internal/table"
)

// athenaType is the Athena DDL type of an Iceberg type in eventlake's
// schema. Athena's DDL has no timestamptz (it creates Iceberg timestamp
// only), so timestamptz maps to timestamp.
var athenaType = map[string]string{"string": "string", "timestamptz": "timestamp"}

// TestIcebergDDL: the CREATE TABLE that ddl --iceberg prints has the
// columns of the table's schema (table.Definition), in order, with their
// Athena types, and its partition spec (identity(event_type), then day or
// hour of created_datetime); the statements Athena runs on the table name
// it; the default name is the table's.
func TestIcebergDDL(t *testing.T) {
	if icebergTable != table.DefaultNamespace+"."+table.DefaultName {
		t.Errorf("icebergTable %q, the table is %s.%s", icebergTable, table.DefaultNamespace, table.DefaultName)
	}
	create := regexp.MustCompile(`(?s)\nCREATE TABLE (\S+) \(\n(.*?)\n\)\nPARTITIONED BY \((.*?)\)\nLOCATION '(.*?)'\nTBLPROPERTIES \((.*?)\);\n$`)
	for _, hourly := range []bool{false, true} {
		args := []string{"ddl", "--iceberg", "--lake", "s3://bucket/lake/"}
		if hourly {
			args = append(args, "--layout", "hourly")
		}
		out, _, err := cli(t, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		m := create.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%v: no CREATE TABLE ... PARTITIONED BY ... LOCATION ... TBLPROPERTIES at the end:\n%s", args, out)
		}
		name, cols, parts, loc, props := m[1], strings.Split(m[2], ",\n"), m[3], m[4], m[5]
		if name != icebergTable || loc != "s3://bucket/lake/eventlake.db/events/" {
			t.Errorf("%v: CREATE TABLE %s at %s", args, name, loc)
		}
		sc, spec, _ := table.Definition(hourly)
		fields := sc.Fields()
		if len(cols) != len(fields) {
			t.Fatalf("%v: %d columns %q, the schema has %d", args, len(cols), cols, len(fields))
		}
		for i, f := range fields {
			want := "  " + f.Name + " " + athenaType[f.Type.String()]
			if athenaType[f.Type.String()] == "" || cols[i] != want {
				t.Errorf("%v: column %d is %q, want %q (schema: %s %s)", args, i+1, cols[i], want, f.Name, f.Type)
			}
		}
		var wantParts []string
		for _, pf := range spec.Fields() {
			src, ok := sc.FindFieldByID(pf.SourceIDs[0])
			if !ok {
				t.Fatalf("partition field %s: no source column", pf.Name)
			}
			switch pf.Transform.(type) {
			case iceberg.IdentityTransform:
				wantParts = append(wantParts, src.Name)
			case iceberg.DayTransform:
				wantParts = append(wantParts, "day("+src.Name+")")
			case iceberg.HourTransform:
				wantParts = append(wantParts, "hour("+src.Name+")")
			default:
				t.Fatalf("partition field %s: transform %s has no Athena form here", pf.Name, pf.Transform)
			}
		}
		if got := strings.Split(parts, ", "); strings.Join(got, "|") != strings.Join(wantParts, "|") {
			t.Errorf("%v: PARTITIONED BY %q, the spec is %q", args, got, wantParts)
		}
		if !strings.Contains(props, "'table_type' = 'ICEBERG'") || !strings.Contains(props, "'format' = 'parquet'") {
			t.Errorf("%v: TBLPROPERTIES (%s)", args, props)
		}
		for _, stmt := range []string{
			"\nSELECT event_type, count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids\nFROM " + icebergTable + "\n",
			"\nSELECT count(*) FROM " + icebergTable + " FOR VERSION AS OF ",
			"\nSELECT count(*) FROM " + icebergTable + " FOR TIMESTAMP AS OF TIMESTAMP '",
			"\nOPTIMIZE " + icebergTable + " REWRITE DATA USING BIN_PACK WHERE event_type = 'payment';\n",
			"\nOPTIMIZE " + icebergTable + " REWRITE DATA USING BIN_PACK;\n",
			"\nALTER TABLE " + icebergTable + " SET TBLPROPERTIES ('vacuum_max_snapshot_age_seconds' = '",
			"\nVACUUM " + icebergTable + ";\n",
		} {
			if !strings.Contains(out, stmt) {
				t.Errorf("%v: no %q in\n%s", args, stmt, out)
			}
		}
	}
	out, _, err := cli(t, nil, "ddl", "--iceberg", "--table", "analytics.clicks")
	if err != nil || !strings.Contains(out, "\nVACUUM analytics.clicks;\n") || !strings.Contains(out, "LOCATION 's3://BUCKET/events/analytics.db/clicks/'") {
		t.Errorf("--table analytics.clicks: %v\n%s", err, out)
	}
}

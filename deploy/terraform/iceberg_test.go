package terraform

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestIcebergTable: with iceberg_table, the Glue database exists, the
// landing function's EVENTLAKE_TABLE (the output iceberg_table_url) names a table in it with its
// warehouse under iceberg_prefix (and parses as the code parses it), and
// its role may call exactly the Glue actions iceberg-go's Glue catalog
// makes (GetDatabase on the catalog and database; GetTable, CreateTable and
// UpdateTable on the catalog, database and table), on exactly those ARNs.
// Without it, none of this exists and EVENTLAKE_TABLE is empty.
func TestIcebergTable(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		// The function's environment is unknown at plan time (queue URLs);
		// its EVENTLAKE_TABLE is local.iceberg_url when iceberg_table
		// (TestFunctionEnvironmentMatchesTheCode), which the output shows.
		tableURL, _ := p.raw.PlannedValues.Outputs["iceberg_table_url"].Value.(string)
		glue := map[string][]string{} // action -> resources
		for _, s := range p.roleStatements(t, "aws_iam_role.function") {
			for _, a := range s.Action {
				if strings.HasPrefix(a, "glue:") {
					glue[a] = append(glue[a], s.Resource...)
				}
			}
		}
		dbs := p.byType("aws_glue_catalog_database")
		if p.vars["iceberg_table"] != true {
			if tableURL != "" || len(glue) != 0 || len(dbs) != 1 {
				t.Errorf("without iceberg_table: EVENTLAKE_TABLE %q, Glue grants %v, %d Glue databases (want only the lake's)", tableURL, glue, len(dbs))
			}
			return
		}
		if len(dbs) != 2 {
			t.Fatalf("%d Glue databases, want the lake's and the Iceberg one", len(dbs))
		}
		db := p.one(t, "aws_glue_catalog_database.iceberg[0]").After["name"].(string)
		// The form internal/table/tableurl parses (its tests), read here
		// with net/url to keep iceberg-go out of this test's build.
		u, err := url.Parse(tableURL)
		if err != nil {
			t.Fatalf("EVENTLAKE_TABLE: %v", err)
		}
		bucket := p.one(t, "aws_s3_bucket.lake").After["bucket"].(string)
		if u.Scheme != "glue" || u.Host != db || u.Path != "/events" || fmt.Sprint(u.Query()) != fmt.Sprint(url.Values{"warehouse": {"s3://" + bucket + "/" + p.str("iceberg_prefix")}}) {
			t.Errorf("EVENTLAKE_TABLE %s: want glue://%s/events?warehouse=s3://%s/%s", tableURL, db, bucket, p.str("iceberg_prefix"))
		}
		arn := fmt.Sprintf("arn:aws:glue:%s:%s:", p.str("region"), accountID)
		catalog, database, table := arn+"catalog", arn+"database/"+db, arn+"table/"+db+"/events"
		want := map[string][]string{
			"glue:GetDatabase": {catalog, database},
			"glue:GetTable":    {catalog, database, table},
			"glue:CreateTable": {catalog, database, table},
			"glue:UpdateTable": {catalog, database, table},
		}
		for a := range glue {
			sort.Strings(glue[a])
			glue[a] = slices.Compact(glue[a])
		}
		for a := range want {
			sort.Strings(want[a])
		}
		if fmt.Sprint(glue) != fmt.Sprint(want) {
			t.Errorf("the landing function's Glue grants\n%v\nwant exactly\n%v", glue, want)
		}
		for _, role := range []string{"aws_iam_role.compaction"} {
			if _, ok := p.rolePolicies(t)[role]; !ok {
				continue
			}
			for _, s := range p.roleStatements(t, role) {
				for _, a := range s.Action {
					if strings.HasPrefix(a, "glue:") {
						t.Errorf("%s may %s: only the landing function commits to the table", role, a)
					}
				}
			}
		}
	})
}

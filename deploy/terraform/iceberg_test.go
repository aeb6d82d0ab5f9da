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
		glue := byAction(p.grants(t, "aws_iam_role.function", "glue:"))
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
		if p.committer() { // it stages; the committer updates the table
			delete(want, "glue:UpdateTable")
		}
		for a := range want {
			sort.Strings(want[a])
		}
		if fmt.Sprint(glue) != fmt.Sprint(want) {
			t.Errorf("the landing function's Glue grants\n%v\nwant exactly\n%v", glue, want)
		}
		queue := fmt.Sprintf("arn:aws:sqs:%s:%s:%s-table-commits", p.str("region"), accountID, p.one(t, "aws_lambda_function.eventlake").After["function_name"])
		sends := p.grants(t, "aws_iam_role.function", "sqs:SendMessage")
		if _, ok := sends[queue]; ok != p.committer() {
			t.Errorf("the landing function may send to the commit queue: %v, want %v (%v)", ok, p.committer(), sends)
		}
		if !p.committer() {
			if n := len(p.byType("aws_lambda_function")) + len(p.byType("aws_sqs_queue")); p.one(t, "aws_lambda_function.eventlake") == nil || n == 0 {
				t.Fatal("no plan")
			}
			for addr := range p.res {
				if strings.Contains(addr, "committer") || strings.Contains(addr, "table_commits") {
					t.Errorf("without iceberg_committer the plan has %s", addr)
				}
			}
			return
		}
		// The committer: exactly what a commit needs, nothing to create.
		wantGlue := map[string][]string{"glue:GetTable": {catalog, database, table}, "glue:UpdateTable": {catalog, database, table}}
		for a := range wantGlue {
			sort.Strings(wantGlue[a])
		}
		if got := byAction(p.grants(t, "aws_iam_role.committer", "glue:")); fmt.Sprint(got) != fmt.Sprint(wantGlue) {
			t.Errorf("the committer's Glue grants\n%v\nwant exactly\n%v", got, wantGlue)
		}
		b := "arn:aws:s3:::" + bucket
		wantS3 := map[string][]string{b + "/" + p.str("iceberg_prefix") + "/*": {"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"}, b: {"s3:ListBucket"}}
		if got := p.grants(t, "aws_iam_role.committer", "s3:"); fmt.Sprint(got) != fmt.Sprint(wantS3) {
			t.Errorf("the committer may on S3\n%v\nwant exactly\n%v", got, wantS3)
		}
		wantSQS := map[string][]string{queue: {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}}
		if got := p.grants(t, "aws_iam_role.committer", "sqs:"); fmt.Sprint(got) != fmt.Sprint(wantSQS) {
			t.Errorf("the committer may on SQS\n%v\nwant exactly\n%v", got, wantSQS)
		}
		// Only the landing role may send to the queue.
		pol := p.policyOf(t, "aws_sqs_queue_policy.table_commits[0]", "policy")
		role := fmt.Sprintf("arn:aws:iam::%s:role/%s", accountID, p.one(t, "aws_iam_role.function").After["name"])
		if len(pol.Statement) != 1 || pol.Statement[0].Effect != "Deny" || !slices.Equal(pol.Statement[0].Action, []string{"sqs:SendMessage"}) ||
			!strings.Contains(fmt.Sprint(pol.Statement[0].Condition), role) || !strings.Contains(fmt.Sprint(pol.Statement[0].Condition), "ArnNotEquals") {
			t.Errorf("commit queue policy %+v: want a Deny of sqs:SendMessage to all but %s", pol, role)
		}
		q := p.one(t, "aws_sqs_queue.table_commits[0]").After
		if q["visibility_timeout_seconds"] != 6*p.one(t, "aws_lambda_function.committer[0]").After["timeout"].(float64) ||
			!hasRef(p.refs(t, "aws_sqs_queue.table_commits", "redrive_policy"), "aws_sqs_queue.table_commits_dlq") {
			t.Errorf("commit queue: visibility %v, redrive %v", q["visibility_timeout_seconds"], p.refs(t, "aws_sqs_queue.table_commits", "redrive_policy"))
		}
	})
}

// TestCompactionMaintainsTheTable: with iceberg_table and compaction, the
// compaction function's role gets exactly what the table maintenance calls
// (its environment, EVENTLAKE_TABLE and the EVENTLAKE_TABLE_* settings, is
// unknown at plan time: TestFunctionEnvironmentMatchesTheCode checks it): glue:GetTable and glue:UpdateTable
// (iceberg-go's LoadTable and CommitTable; the table is opened, never
// created) on the catalog, database and table; read, write, delete and
// abort below the warehouse prefix, besides its rights on the lake and the
// bucket's listing (the orphan sweep lists the warehouse). Nothing more,
// and without the table no Glue action and nothing on the warehouse.
func TestCompactionMaintainsTheTable(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		if !p.compaction() {
			return
		}
		iceberg := p.vars["iceberg_table"] == true
		bucket := "arn:aws:s3:::" + p.one(t, "aws_s3_bucket.lake").After["bucket"].(string)
		rw := []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
		wantS3 := map[string][]string{bucket + "/" + p.str("lake_prefix") + "/*": rw, bucket: {"s3:ListBucket"}}
		wantGlue := map[string][]string{}
		if iceberg {
			wantS3[bucket+"/"+p.str("iceberg_prefix")+"/*"] = rw
			db := p.one(t, "aws_glue_catalog_database.iceberg[0]").After["name"].(string)
			arn := fmt.Sprintf("arn:aws:glue:%s:%s:", p.str("region"), accountID)
			arns := []string{arn + "catalog", arn + "database/" + db, arn + "table/" + db + "/events"}
			sort.Strings(arns)
			wantGlue = map[string][]string{"glue:GetTable": arns, "glue:UpdateTable": arns}
		}
		if got := p.grants(t, "aws_iam_role.compaction", "s3:"); fmt.Sprint(got) != fmt.Sprint(wantS3) {
			t.Errorf("the compaction function may on S3\n%v\nwant exactly\n%v", got, wantS3)
		}
		if got := byAction(p.grants(t, "aws_iam_role.compaction", "glue:")); fmt.Sprint(got) != fmt.Sprint(wantGlue) {
			t.Errorf("the compaction function's Glue grants\n%v\nwant exactly\n%v", got, wantGlue)
		}
	})
}

// grants are a role's allowed actions beginning with prefix, by resource,
// sorted and without repeats.
func (p *plan) grants(t *testing.T, role, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, s := range p.roleStatements(t, role) {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if !strings.HasPrefix(a, prefix) {
				continue
			}
			for _, r := range s.Resource {
				if !slices.Contains(out[r], a) {
					out[r] = append(out[r], a)
				}
			}
		}
	}
	for r := range out {
		sort.Strings(out[r])
	}
	return out
}

// byAction turns grants by resource into resources by action, sorted.
func byAction(grants map[string][]string) map[string][]string {
	out := map[string][]string{}
	for r, as := range grants {
		for _, a := range as {
			out[a] = append(out[a], r)
		}
	}
	for a := range out {
		sort.Strings(out[a])
	}
	return out
}

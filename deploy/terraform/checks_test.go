package terraform

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/cost"
	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/lake"
)

// The checks below read the plans: the values Terraform resolved for each
// variable set, the policies as AWS would receive them, and, where a value
// is known only after apply (ARNs and URLs of new resources), what the
// configuration references, as Terraform itself resolved it.

// TestTerraformPlans: terraform fmt -check, init, validate and a plan of
// every variable set succeed.
func TestTerraformPlans(t *testing.T) {
	ps := plans(t)
	if run.fmtOut != "" {
		t.Errorf("terraform fmt -check -recursive: files not canonically formatted:\n%s", run.fmtOut)
	}
	for _, vs := range varSets {
		if p := ps[vs.name]; p != nil {
			t.Logf("plan %-24s %d resources to create", vs.name, len(p.res))
		} else if vs.fail == nil {
			t.Errorf("no plan %s", vs.name)
		}
	}
	t.Logf("terraform fmt, init, validate and %d plans: %v", len(varSets), run.took.Round(100_000_000))
}

// TestInvalidValuesAreRefused: each plan of bad values fails with the
// messages of the validations and preconditions that catch them.
func TestInvalidValuesAreRefused(t *testing.T) {
	plans(t)
	for _, vs := range varSets {
		if vs.fail == nil {
			continue
		}
		out := strings.Join(strings.Fields(run.failed[vs.name]), " ")
		for _, want := range vs.fail {
			if !strings.Contains(out, want) {
				t.Errorf("plan %s: output lacks %q:\n%s", vs.name, want, run.failed[vs.name])
			}
		}
	}
}

// TestNothingWrittenToTheRepository: Terraform ran in a copy.
func TestNothingWrittenToTheRepository(t *testing.T) {
	plans(t)
	for _, pat := range []string{".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan", "zz_*"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			t.Errorf("the tests left %v in the repository", m)
		}
	}
}

// TestProviderIsPinned: the configuration admits the provider release the
// tests plan with, and init took it.
func TestProviderIsPinned(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		if got := p.raw.Configuration.ProviderConfig["aws"].VersionConstraint; got != "~> 5.100.0" {
			t.Errorf("provider constraint %q, want ~> 5.100.0 (docs/terraform.md)", got)
		}
	})
	if !strings.Contains(string(run.lock), `version     = "5.100.0"`) {
		t.Errorf("init did not select 5.100.0:\n%s", run.lock)
	}
}

// allPolicies are every policy of the plan that AWS would receive, known
// at plan time, by where they are.
func allPolicies(t *testing.T, p *plan) map[string]policy {
	t.Helper()
	out := map[string]policy{}
	for role := range p.rolePolicies(t) {
		out[role] = policy{Statement: p.roleStatements(t, role)}
	}
	for _, r := range p.byType("aws_iam_role") {
		out[r.Address+".assume_role_policy"] = p.policyOf(t, r.Address, "assume_role_policy")
	}
	out["aws_kms_key.main"] = p.policyOf(t, "aws_kms_key.main", "policy")
	out["aws_s3_bucket_policy.lake"] = p.policyOf(t, "aws_s3_bucket_policy.lake", "policy")
	out["aws_sqs_queue_policy.new_data"] = p.policyOf(t, "aws_sqs_queue_policy.new_data", "policy")
	if p.committer() {
		out["aws_sqs_queue_policy.table_commits[0]"] = p.policyOf(t, "aws_sqs_queue_policy.table_commits[0]", "policy")
	}
	return out
}

// TestNoWildcardActions: no Allow statement grants a wildcard action, and
// a role policy's "*" resource is X-Ray's alone (it has no resource-level
// permissions).
func TestNoWildcardActions(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		for where, pol := range allPolicies(t, p) {
			for _, s := range pol.Statement {
				if s.Effect != "Allow" {
					continue
				}
				if len(s.NotAction) > 0 {
					t.Errorf("%s %s: NotAction in an Allow", where, s.Sid)
				}
				for _, a := range s.Action {
					if strings.Contains(a, "*") {
						t.Errorf("%s %s: wildcard action %s", where, s.Sid, a)
					}
				}
				if strings.HasPrefix(where, "aws_iam_role.") && !strings.HasSuffix(where, "assume_role_policy") && slices.Contains(s.Resource, "*") {
					for _, a := range s.Action {
						if !strings.HasPrefix(a, "xray:") {
							t.Errorf("%s %s: %s on every resource", where, s.Sid, a)
						}
					}
				}
			}
		}
	})
}

func s3Actions(sts []statement) []string {
	var out []string
	for _, s := range sts {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			if strings.HasPrefix(a, "s3:") && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestLandingFunctionOnlyCreatesObjects: the landing function creates
// objects in the lake (conditional puts, multipart ones aborted on
// failure) and does nothing else to it: internal/function and the lake
// writer never read, list or delete. Only compaction deletes there. With
// the Iceberg table, it also reads, writes and deletes below the warehouse
// prefix (iceberg.tf) and lists the bucket, and nothing more.
func TestLandingFunctionOnlyCreatesObjects(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		bucket := "arn:aws:s3:::" + p.one(t, "aws_s3_bucket.lake").After["bucket"].(string)
		want := map[string][]string{bucket + "/" + p.str("lake_prefix") + "/*": {"s3:AbortMultipartUpload", "s3:PutObject"}}
		if p.vars["iceberg_table"] == true {
			want[bucket+"/"+p.str("iceberg_prefix")+"/*"] = []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
			want[bucket] = []string{"s3:ListBucket"}
		}
		if got := p.grants(t, "aws_iam_role.function", "s3:"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("the landing function may on S3\n%v\nwant exactly\n%v", got, want)
		}
		if p.compaction() {
			if got := s3Actions(p.roleStatements(t, "aws_iam_role.compaction")); !slices.Contains(got, "s3:DeleteObject") {
				t.Errorf("compaction may %v: it cannot delete superseded objects", got)
			}
		}
	})
}

// TestRolesThatReadCanTellMissingObjects: a role that may GetObject has
// s3:ListBucket on the bucket without a condition, so that a missing key
// is a 404 (lake.ErrNotExist), not a 403; a role that may PutObject may
// abort its multipart uploads where it puts.
func TestRolesThatReadCanTellMissingObjects(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		bucket := "arn:aws:s3:::" + p.one(t, "aws_s3_bucket.lake").After["bucket"].(string)
		for role := range p.rolePolicies(t) {
			pol := policy{Statement: p.roleStatements(t, role)}
			if len(pol.allows("s3:GetObject")) > 0 {
				ok := false
				for _, s := range pol.allows("s3:ListBucket") {
					ok = ok || (slices.Equal(s.Resource, []string{bucket}) && len(s.Condition) == 0)
				}
				if !ok {
					t.Errorf("%s may s3:GetObject without an unconditioned s3:ListBucket on %s: a missing key would be a 403", role, bucket)
				}
			}
			for _, s := range pol.allows("s3:PutObject") {
				for _, r := range s.Resource {
					found := false
					for _, a := range pol.allows("s3:AbortMultipartUpload") {
						found = found || slices.Contains(a.Resource, r)
					}
					if !found {
						t.Errorf("%s may put on %s but not abort multipart uploads there", role, r)
					}
				}
			}
		}
	})
}

var arnRE = regexp.MustCompile(`^arn:([a-z-]+):([a-z0-9-]+):([a-z0-9-]*):([0-9]*):(.+)$`)

// TestPolicyARNsNameResourcesOfThePlan: the ARNs the policies spell out
// (main.tf's local.arn) name resources of the plan, in its region and
// account.
func TestPolicyARNsNameResourcesOfThePlan(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		names := func(typ, attr string) []string {
			var out []string
			for _, r := range p.byType(typ) {
				out = append(out, fmt.Sprint(r.After[attr]))
			}
			return out
		}
		region, lakePrefix, icebergPrefix := p.str("region"), p.str("lake_prefix"), p.str("iceberg_prefix")
		check := func(where, arn string) {
			m := arnRE.FindStringSubmatch(arn)
			if m == nil {
				t.Errorf("%s: %q is not an ARN", where, arn)
				return
			}
			svc, reg, acct, rest := m[2], m[3], m[4], m[5]
			if m[1] != "aws" || (svc != "s3" && svc != "iam" && (reg != region || acct != accountID)) {
				t.Errorf("%s: %s is not in aws/%s/%s", where, arn, region, accountID)
			}
			var ok bool
			switch svc {
			case "s3":
				bucket, obj, hasObj := strings.Cut(rest, "/")
				ok = slices.Contains(names("aws_s3_bucket", "bucket"), bucket) &&
					(!hasObj || obj == lakePrefix+"/*" || obj == "*" || (p.vars["iceberg_table"] == true && obj == icebergPrefix+"/*"))
			case "glue":
				dbs := names("aws_glue_catalog_database", "name")
				kind, name, _ := strings.Cut(rest, "/")
				db, tbl, hasTable := strings.Cut(name, "/")
				switch kind {
				case "catalog":
					ok = name == ""
				case "database":
					ok = slices.Contains(dbs, name)
				case "table":
					// The Iceberg table is created by the function (iceberg.tf).
					ok = hasTable && slices.Contains(dbs, db) && (tbl == "events" || slices.Contains(names("aws_glue_catalog_table", "name"), tbl))
				}
			case "sqs":
				ok = slices.Contains(names("aws_sqs_queue", "name"), rest)
			case "kinesis":
				ok = slices.Contains(names("aws_kinesis_stream", "name"), strings.TrimPrefix(rest, "stream/"))
			case "logs":
				ok = slices.Contains(names("aws_cloudwatch_log_group", "name"), strings.TrimSuffix(strings.TrimPrefix(rest, "log-group:"), ":*"))
			case "sns":
				ok = slices.Contains(names("aws_sns_topic", "name"), rest)
			case "cloudwatch":
				prefix := strings.TrimSuffix(strings.TrimPrefix(rest, "alarm:"), "*")
				ok = true
				for _, a := range names("aws_cloudwatch_metric_alarm", "alarm_name") {
					ok = ok && strings.HasPrefix(a, prefix)
				}
			case "iam":
				ok = acct == accountID && (rest == "root" || slices.Contains(names("aws_iam_role", "name"), strings.TrimPrefix(rest, "role/")))
			}
			if !ok {
				t.Errorf("%s: %s names no resource of the plan", where, arn)
			}
		}
		for where, pol := range allPolicies(t, p) {
			for _, s := range pol.Statement {
				for _, r := range s.Resource {
					if strings.HasPrefix(r, "arn:") {
						check(where+" "+s.Sid, r)
					}
				}
				for _, l := range s.Principal {
					for _, v := range l {
						if strings.HasPrefix(v, "arn:") {
							check(where+" "+s.Sid, v)
						}
					}
				}
				for _, c := range s.Condition {
					for _, l := range c {
						for _, v := range l {
							if strings.HasPrefix(v, "arn:") {
								check(where+" "+s.Sid, v)
							}
						}
					}
				}
			}
		}
	})
}

// TestKeyPolicyScopesEachService: the account administers the key; each
// service that uses it as itself has one statement, scoped to this
// deployment's resources by encryption context or source ARN. SQS, SNS
// and S3's bucket encryption use the callers' permissions.
func TestKeyPolicyScopesEachService(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		pol := p.policyOf(t, "aws_kms_key.main", "policy")
		region := p.str("region")
		var logGroups []string
		for _, g := range p.byType("aws_cloudwatch_log_group") {
			logGroups = append(logGroups, fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, accountID, g.After["name"]))
		}
		sort.Strings(logGroups)
		newData := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, accountID, p.one(t, "aws_sqs_queue.new_data").After["name"])
		want := map[string]func(s statement) error{
			"logs." + region + ".amazonaws.com": func(s statement) error {
				got := slices.Sorted(slices.Values(s.Condition["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]))
				if !slices.Equal(got, logGroups) {
					return fmt.Errorf("logs may encrypt %v, want the log groups %v", got, logGroups)
				}
				return nil
			},
			"s3.amazonaws.com": func(s statement) error {
				if got := s.Condition["StringEquals"]["kms:EncryptionContext:aws:sqs:arn"]; !slices.Equal(got, []string{newData}) {
					return fmt.Errorf("S3 may use the key for queues %v, want %s (the notifications' queue)", got, newData)
				}
				if a := slices.Sorted(slices.Values(s.Action)); !slices.Equal(a, []string{"kms:Decrypt", "kms:GenerateDataKey"}) {
					return fmt.Errorf("S3 may %v", a)
				}
				return nil
			},
		}
		if p.str("alarm_email") != "" {
			want["cloudwatch.amazonaws.com"] = func(s statement) error {
				if got := s.Condition["ArnLike"]["aws:SourceArn"]; len(got) != 1 || !strings.HasPrefix(got[0], fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s-", region, accountID, p.str("name_prefix"))) {
					return fmt.Errorf("CloudWatch may use the key for alarms %v", got)
				}
				return nil
			}
		}
		seen := map[string]int{}
		for _, s := range pol.Statement {
			if aws := s.Principal["AWS"]; len(aws) > 0 && !slices.Equal(aws, []string{"arn:aws:iam::" + accountID + ":root"}) {
				t.Errorf("%s: principals %v, want the account", s.Sid, aws)
			}
			if _, ok := s.Principal["*"]; ok {
				t.Errorf("%s: any principal", s.Sid)
			}
			for _, svc := range s.Principal["Service"] {
				seen[svc]++
				check := want[svc]
				if check == nil {
					t.Errorf("%s: the service %s may use the key; it needs no statement", s.Sid, svc)
					continue
				}
				if err := check(s); err != nil {
					t.Errorf("%s: %v", s.Sid, err)
				}
				if len(s.Condition) == 1 && len(s.Condition["StringEquals"]) == 1 && s.Condition["StringEquals"]["aws:SourceAccount"] != nil {
					t.Errorf("%s: scoped by aws:SourceAccount alone: any resource of the account may use the key", s.Sid)
				}
			}
		}
		for svc := range want {
			if seen[svc] != 1 {
				t.Errorf("the service %s has %d statements, want 1", svc, seen[svc])
			}
		}
	})
}

func hasRef(refs []string, ref string) bool {
	for _, r := range refs {
		if r == ref || strings.HasPrefix(r, ref+".") || strings.HasPrefix(r, ref+"[") {
			return true
		}
	}
	return false
}

// TestMappingsAreWired: each event source mapping connects its source to
// its function with partial batch responses and the variables' settings.
func TestMappingsAreWired(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		type wiring struct{ source, function string }
		mappings := map[string]wiring{
			"aws_lambda_event_source_mapping.kinesis": {"aws_kinesis_stream.events", "aws_lambda_function.eventlake"},
			"aws_lambda_event_source_mapping.ingest":  {"aws_sqs_queue.ingest", "aws_lambda_function.eventlake"},
		}
		if p.compaction() {
			mappings["aws_lambda_event_source_mapping.compaction"] = wiring{"aws_sqs_queue.compaction", "aws_lambda_function.compaction"}
		}
		if p.committer() {
			mappings["aws_lambda_event_source_mapping.table_commits"] = wiring{"aws_sqs_queue.table_commits", "aws_lambda_function.committer"}
		}
		if got := len(p.byType("aws_lambda_event_source_mapping")); got != len(mappings) {
			t.Errorf("%d mappings, want %d", got, len(mappings))
		}
		for addr, w := range mappings {
			cfg := addr
			if strings.HasSuffix(addr, ".compaction") || strings.HasSuffix(addr, ".table_commits") {
				addr += "[0]"
			}
			m := p.one(t, addr)
			if !hasRef(p.refs(t, cfg, "event_source_arn"), w.source) || !hasRef(p.refs(t, cfg, "function_name"), w.function) {
				t.Errorf("%s: from %v to %v, want %s to %s", addr, p.refs(t, cfg, "event_source_arn"), p.refs(t, cfg, "function_name"), w.source, w.function)
			}
			if got := strs(m.After["function_response_types"]); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
				t.Errorf("%s: function_response_types %v", addr, got)
			}
		}
		k := p.one(t, "aws_lambda_event_source_mapping.kinesis").After
		for attr, v := range map[string]string{"batch_size": "batch_size", "maximum_batching_window_in_seconds": "batching_window_seconds",
			"parallelization_factor": "parallelization_factor", "maximum_retry_attempts": "maximum_retry_attempts",
			"maximum_record_age_in_seconds": "maximum_record_age_seconds", "bisect_batch_on_function_error": "bisect_batch_on_function_error",
			"starting_position": "starting_position"} {
			if k[attr] != p.vars[v] {
				t.Errorf("kinesis mapping %s = %v, var.%s = %v", attr, k[attr], v, p.vars[v])
			}
		}
		if !hasRef(p.refs(t, "aws_lambda_event_source_mapping.kinesis", "destination_config", 0, "on_failure", 0, "destination_arn"), "aws_sqs_queue.failed_batches") {
			t.Error("the Kinesis mapping's failed batches do not go to the failed-batches queue")
		}
		if got := p.one(t, "aws_lambda_event_source_mapping.ingest").After["batch_size"]; got != p.vars["sqs_batch_size"] {
			t.Errorf("ingest mapping batch_size %v, var.sqs_batch_size %v", got, p.vars["sqs_batch_size"])
		}
		if p.committer() {
			c := p.one(t, "aws_lambda_event_source_mapping.table_commits[0]").After
			if get(c, "scaling_config", 0, "maximum_concurrency") != 2.0 || c["batch_size"] != p.vars["iceberg_commit_batch_size"] ||
				c["maximum_batching_window_in_seconds"] != p.vars["iceberg_commit_window_seconds"] {
				t.Errorf("commit mapping: maximum_concurrency %v (want 2), batch_size %v (var %v), window %v (var %v)", get(c, "scaling_config", 0, "maximum_concurrency"),
					c["batch_size"], p.vars["iceberg_commit_batch_size"], c["maximum_batching_window_in_seconds"], p.vars["iceberg_commit_window_seconds"])
			}
		}
		if p.compaction() {
			c := p.one(t, "aws_lambda_event_source_mapping.compaction[0]").After
			if got := get(c, "scaling_config", 0, "maximum_concurrency"); got != p.vars["compaction_concurrency"] || c["batch_size"] != 1.0 {
				t.Errorf("compaction mapping: maximum_concurrency %v (var %v), batch_size %v", got, p.vars["compaction_concurrency"], c["batch_size"])
			}
		}
	})
}

// TestFunctions: both functions run the arm64 bootstrap with their
// handler, log to their group, reserve no concurrency (an account with
// little unreserved concurrency would refuse it), and take their queues
// and settings from the resources and variables.
func TestFunctions(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		fns := map[string]string{"aws_lambda_function.eventlake": "land"}
		if p.compaction() {
			fns["aws_lambda_function.compaction[0]"] = "compact"
		}
		if p.committer() {
			fns["aws_lambda_function.committer[0]"] = "commit"
		}
		if got := len(p.byType("aws_lambda_function")); got != len(fns) {
			t.Errorf("%d functions, want %d", got, len(fns))
		}
		for addr, handler := range fns {
			f := p.one(t, addr).After
			if f["handler"] != handler || f["runtime"] != "provided.al2023" || !slices.Equal(strs(f["architectures"]), []string{"arm64"}) {
				t.Errorf("%s: handler %v, runtime %v, architectures %v", addr, f["handler"], f["runtime"], f["architectures"])
			}
			if f["reserved_concurrent_executions"] != -1.0 {
				t.Errorf("%s reserves %v concurrent executions", addr, f["reserved_concurrent_executions"])
			}
		}
		envRefs := p.refs(t, "aws_lambda_function.eventlake", "environment", 0, "variables")
		for _, r := range []string{"aws_sqs_queue.dead_letters", "aws_s3_bucket.lake", "var.lake_prefix", "var.layout", "var.format", "var.compression", "var.max_event_size", "var.log_level", "local.metrics_namespace"} {
			if !hasRef(envRefs, r) {
				t.Errorf("the landing function's environment does not use %s: %v", r, envRefs)
			}
		}
		if p.compaction() {
			envRefs := p.refs(t, "aws_lambda_function.compaction", "environment", 0, "variables")
			for _, r := range []string{"aws_sqs_queue.compaction", "aws_s3_bucket.lake", "var.compaction_partitions_at_once", "var.compaction_memory_mb", "var.compaction_grace", "var.compaction_older_than", "var.compaction_target_size", "local.metrics_namespace"} {
				if !hasRef(envRefs, r) {
					t.Errorf("the compaction function's environment does not use %s: %v", r, envRefs)
				}
			}
		}
	})
}

// TestCompactionIsScheduled: the schedule invokes the compaction function,
// which that rule alone may invoke; with compaction off, none of it exists.
func TestCompactionIsScheduled(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		if !p.compaction() {
			for addr := range p.res {
				// The manifests' table stays: the view reads it, and the
				// CLI can compact a lake too.
				if strings.Contains(addr, "compaction") && addr != "aws_glue_catalog_table.compaction" {
					t.Errorf("compaction is off, yet the plan has %s", addr)
				}
			}
			return
		}
		if got := p.one(t, "aws_cloudwatch_event_rule.compaction[0]").After["schedule_expression"]; got != p.vars["compaction_schedule"] {
			t.Errorf("schedule %v, var %v", got, p.vars["compaction_schedule"])
		}
		if !hasRef(p.refs(t, "aws_cloudwatch_event_target.compaction", "arn"), "aws_lambda_function.compaction") ||
			!hasRef(p.refs(t, "aws_cloudwatch_event_target.compaction", "rule"), "aws_cloudwatch_event_rule.compaction") {
			t.Error("the schedule does not target the compaction function")
		}
		perm := p.one(t, "aws_lambda_permission.compaction[0]").After
		if perm["principal"] != "events.amazonaws.com" || perm["action"] != "lambda:InvokeFunction" ||
			!hasRef(p.refs(t, "aws_lambda_permission.compaction", "source_arn"), "aws_cloudwatch_event_rule.compaction") ||
			!hasRef(p.refs(t, "aws_lambda_permission.compaction", "function_name"), "aws_lambda_function.compaction") {
			t.Errorf("invoke permission %v", perm)
		}
	})
}

// ddlOf is what "eventlake ddl" prints for the plan's lake.
func ddlOf(t *testing.T, p *plan) string {
	t.Helper()
	layout, err := lake.ParseLayout(p.str("layout"))
	if err != nil {
		t.Fatal(err)
	}
	format, err := lake.ParseFormat(p.str("format"))
	if err != nil {
		t.Fatal(err)
	}
	return lake.DDL("events", p.outputs["lake_url"].(string), layout, format, strs(p.vars["event_types"]))
}

// TestAthenaViewIsTheCodes: the view's CREATE statement the plan saves is
// the one lake.DDL writes ("eventlake ddl", and the SQL "eventlake query"
// runs on DuckDB), for every layout and format; the named query runs in
// the workgroup.
func TestAthenaViewIsTheCodes(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		ddl := ddlOf(t, p)
		want := ddl[strings.Index(ddl, "CREATE OR REPLACE VIEW events AS\n"):]
		if got := p.outputs["create_events_view"]; got != want {
			t.Errorf("create_events_view:\n%v\nwant (lake.DDL):\n%s", got, want)
		}
		q := p.one(t, "aws_athena_named_query.create_events_view")
		if q.After["query"] != want || !hasRef(p.refs(t, "aws_athena_named_query.create_events_view", "workgroup"), "aws_athena_workgroup.lake") {
			t.Errorf("named query %v", q.After)
		}
	})
}

var ddlProp = regexp.MustCompile(`(?m)^  '([^']+)' = '([^']*)',?$`)

// TestGlueTablesAreTheCodes: the Glue tables are the ones lake.DDL
// creates: projection and location template of the layout the function
// writes, columns, SerDe, and the manifests' folder; no table location
// has a folder Athena would skip as hidden.
func TestGlueTablesAreTheCodes(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		ddl := ddlOf(t, p)
		objects, compaction, _ := strings.Cut(ddl, "CREATE EXTERNAL TABLE IF NOT EXISTS events_compaction")
		tbl := p.one(t, "aws_glue_catalog_table.events").After
		params := map[string]string{}
		for k, v := range tbl["parameters"].(map[string]any) {
			if k != "classification" {
				params[k] = v.(string)
			}
		}
		props := map[string]string{}
		for _, m := range ddlProp.FindAllStringSubmatch(objects, -1) {
			props[m[1]] = m[2]
		}
		if fmt.Sprint(params) != fmt.Sprint(props) {
			t.Errorf("events_objects parameters\n%v\nlake.DDL's TBLPROPERTIES\n%v", params, props)
		}
		layout, _ := lake.ParseLayout(p.str("layout"))
		var keys []string
		for _, k := range tbl["partition_keys"].([]any) {
			keys = append(keys, get(k, "name").(string))
		}
		if !slices.Equal(keys, layout.Keys()) {
			t.Errorf("partition keys %v, the layout's %v", keys, layout.Keys())
		}
		sd := get(tbl, "storage_descriptor", 0)
		var cols []string
		for _, c := range get(sd, "columns").([]any) {
			cols = append(cols, fmt.Sprintf("%s %s", get(c, "name"), get(c, "type")))
		}
		if ddlCols := objects[strings.Index(objects, "(\n")+2 : strings.Index(objects, "\n)")]; strings.Join(cols, ",\n  ") != strings.TrimSpace(ddlCols) {
			t.Errorf("columns %v, lake.DDL's %q", cols, ddlCols)
		}
		serde := map[string]string{"jsonl": "org.openx.data.jsonserde.JsonSerDe", "parquet": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}[p.str("format")]
		if got := get(sd, "ser_de_info", 0, "serialization_library"); got != serde {
			t.Errorf("SerDe %v, want %s", got, serde)
		}
		if loc := "LOCATION '" + get(sd, "location").(string) + "'"; !strings.Contains(objects, loc) {
			t.Errorf("events_objects %s; lake.DDL has %s", loc, objects)
		}
		man := get(p.one(t, "aws_glue_catalog_table.compaction").After, "storage_descriptor", 0, "location").(string)
		if !strings.Contains(compaction, "LOCATION '"+man+"'") || !strings.HasSuffix(man, "/"+lake.ManifestPrefix) {
			t.Errorf("events_compaction at %s; lake.DDL: %s", man, compaction)
		}
		// Athena, like Hive, skips paths with a folder beginning with '_'
		// or '.': a table located under one reads nothing.
		for _, tb := range p.byType("aws_glue_catalog_table") {
			locs := []string{get(tb.After, "storage_descriptor", 0, "location").(string)}
			if tmpl, ok := get(tb.After, "parameters", "storage.location.template").(string); ok {
				locs = append(locs, tmpl)
			}
			for _, loc := range locs {
				for _, seg := range strings.Split(strings.TrimPrefix(loc, "s3://"), "/") {
					if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
						t.Errorf("%s is located at %s: Athena skips the folder %s", tb.Address, loc, seg)
					}
				}
			}
		}
	})
}

// TestNewDataNotifications: the "new data" queue hears of the objects the
// function writes, in the format and compression it writes, and nothing
// else of the bucket.
func TestNewDataNotifications(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		q := get(p.one(t, "aws_s3_bucket_notification.lake").After, "queue", 0)
		ext := lake.ParquetExt
		if p.str("format") == "jsonl" {
			c, err := lake.ParseCompression(p.str("compression"))
			if err != nil {
				t.Fatal(err)
			}
			ext = c.Ext()
		}
		if get(q, "filter_suffix") != ext || get(q, "filter_prefix") != p.str("lake_prefix")+"/event_type=" || !slices.Equal(strs(get(q, "events")), []string{"s3:ObjectCreated:*"}) {
			t.Errorf("notification %v, want the lake's partitions and %s", q, ext)
		}
		if !hasRef(p.refs(t, "aws_s3_bucket_notification.lake", "queue", 0, "queue_arn"), "aws_sqs_queue.new_data") {
			t.Error("notifications do not go to the new-data queue")
		}
	})
}

// TestEncryptionEverywhere: the stream, the bucket, every queue, the topic,
// the log groups and Athena's results use the customer-managed key; the
// bucket is not public.
func TestEncryptionEverywhere(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		usesKey := func(addr string, path ...any) {
			if !hasRef(p.refs(t, strings.TrimSuffix(addr, "[0]"), path...), "aws_kms_key.main") {
				t.Errorf("%s is not encrypted with the key", addr)
			}
		}
		if p.one(t, "aws_kinesis_stream.events").After["encryption_type"] != "KMS" {
			t.Error("the stream is not encrypted")
		}
		usesKey("aws_kinesis_stream.events", "kms_key_id")
		for _, typ := range []struct{ typ, attr string }{{"aws_sqs_queue", "kms_master_key_id"}, {"aws_sns_topic", "kms_master_key_id"}, {"aws_cloudwatch_log_group", "kms_key_id"}} {
			for _, r := range p.byType(typ.typ) {
				usesKey(r.Address, typ.attr)
			}
		}
		rule := get(p.one(t, "aws_s3_bucket_server_side_encryption_configuration.lake").After, "rule", 0)
		if get(rule, "apply_server_side_encryption_by_default", 0, "sse_algorithm") != "aws:kms" || get(rule, "bucket_key_enabled") != true {
			t.Errorf("bucket encryption %v", rule)
		}
		usesKey("aws_s3_bucket_server_side_encryption_configuration.lake", "rule", 0, "apply_server_side_encryption_by_default", 0, "kms_master_key_id")
		pab := p.one(t, "aws_s3_bucket_public_access_block.lake").After
		for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			if pab[a] != true {
				t.Errorf("public access block %s = %v", a, pab[a])
			}
		}
		wg := get(p.one(t, "aws_athena_workgroup.lake").After, "configuration", 0)
		out := get(wg, "result_configuration", 0, "output_location").(string)
		if get(wg, "enforce_workgroup_configuration") != true || get(wg, "result_configuration", 0, "encryption_configuration", 0, "encryption_option") != "SSE_KMS" {
			t.Errorf("Athena workgroup %v: results must be encrypted with the key, whatever clients ask", wg)
		}
		usesKey("aws_athena_workgroup.lake", "configuration", 0, "result_configuration", 0, "encryption_configuration", 0, "kms_key_arn")
		if lakeURL := p.outputs["lake_url"].(string) + "/"; strings.HasPrefix(out, lakeURL) || !strings.HasPrefix(out, "s3://"+p.outputs["bucket"].(string)+"/") {
			t.Errorf("Athena results at %s: want the lake's bucket, outside the lake %s", out, lakeURL)
		}
		for _, seg := range strings.Split(strings.TrimPrefix(out, "s3://"), "/") {
			if strings.HasPrefix(seg, "_") {
				t.Errorf("Athena results at %s", out)
			}
		}
	})
}

// TestVersionsExpire: with versioning on, old versions (of every object
// compaction deletes) expire after noncurrent_version_days; Athena's
// results always expire.
func TestVersionsExpire(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		status := get(p.one(t, "aws_s3_bucket_versioning.lake").After, "versioning_configuration", 0, "status")
		var noncurrent, results any
		for _, r := range get(p.one(t, "aws_s3_bucket_lifecycle_configuration.lake").After, "rule").([]any) {
			if n := get(r, "noncurrent_version_expiration", 0, "noncurrent_days"); n != nil {
				noncurrent = n
			}
			if get(r, "filter", 0, "prefix") == "athena-results/" {
				results = get(r, "expiration", 0, "days")
			}
		}
		versioning := p.vars["versioning"] == true
		if (status == "Enabled") != versioning || (noncurrent != nil) != versioning || (versioning && noncurrent != p.vars["noncurrent_version_days"]) {
			t.Errorf("versioning %v: status %v, noncurrent versions expire after %v days (var %v)", versioning, status, noncurrent, p.vars["noncurrent_version_days"])
		}
		if results != p.vars["athena_results_days"] {
			t.Errorf("Athena results expire after %v days, var %v", results, p.vars["athena_results_days"])
		}
	})
}

// TestAlarms: every alarm notifies the topic when it fires and when it
// clears (with alarm_email); every dead-letter queue is watched, and so
// is the age of the ingestion queue's oldest message.
func TestAlarms(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		var want []string
		if p.str("alarm_email") != "" {
			topic := p.one(t, "aws_sns_topic.alarms[0]").After["name"]
			want = []string{fmt.Sprintf("arn:aws:sns:%s:%s:%s", p.str("region"), accountID, topic)}
			if sub := p.one(t, "aws_sns_topic_subscription.alarms[0]").After; sub["endpoint"] != p.str("alarm_email") || sub["protocol"] != "email" {
				t.Errorf("subscription %v", sub)
			}
		}
		watched := map[string]string{} // queue -> metric
		for _, a := range p.byType("aws_cloudwatch_metric_alarm") {
			if got, ok := strs(a.After["alarm_actions"]), strs(a.After["ok_actions"]); !slices.Equal(got, want) || !slices.Equal(ok, want) {
				t.Errorf("%s: alarm_actions %v, ok_actions %v, want %v", a.Address, got, ok, want)
			}
			if q, ok := get(a.After, "dimensions", "QueueName").(string); ok {
				watched[q] += a.After["metric_name"].(string) + " "
			}
		}
		for _, q := range p.byType("aws_sqs_queue") {
			name := q.After["name"].(string)
			if strings.HasSuffix(name, "-dlq") || strings.HasSuffix(name, "-dead-letters") || strings.HasSuffix(name, "-failed-batches") {
				if !strings.Contains(watched[name], "ApproximateNumberOfMessagesVisible") {
					t.Errorf("nothing alarms on messages in %s", name)
				}
			}
		}
		if ingest := p.one(t, "aws_sqs_queue.ingest").After["name"].(string); !strings.Contains(watched[ingest], "ApproximateAgeOfOldestMessage") {
			t.Errorf("nothing alarms on the age of %s's messages", ingest)
		}
	})
}

// TestOutputs: what operators need is an output.
func TestOutputs(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		for _, o := range []string{"stream_name", "stream_arn", "bucket", "lake_url", "ingest_queue_url", "dead_letter_queue_url",
			"failed_batches_queue_url", "new_data_queue_url", "function_name", "glue_database", "glue_table", "create_events_view",
			"compaction_function_name", "compaction_queue_url", "compaction_dlq_url", "kms_key_arn", "athena_workgroup", "dashboard_name",
			"iceberg_table_url", "iceberg_database"} {
			if _, ok := p.raw.PlannedValues.Outputs[o]; !ok {
				t.Errorf("no output %s", o)
			}
		}
	})
}

// TestStreamIsSizedAsEventlakeCost: a provisioned stream gets the shards
// internal/cost (eventlake cost) gives the expected traffic, unless
// shard_count says otherwise; by default the stream is provisioned, which
// costs less than on-demand at the default traffic.
func TestStreamIsSizedAsEventlakeCost(t *testing.T) {
	forEach(t, func(t *testing.T, p *plan) {
		s := p.one(t, "aws_kinesis_stream.events").After
		mode := p.str("stream_mode")
		if got := get(s, "stream_mode_details", 0, "stream_mode"); got != mode {
			t.Fatalf("stream mode %v, var %s", got, mode)
		}
		if mode == "ON_DEMAND" {
			if s["shard_count"] != nil {
				t.Errorf("on-demand stream with shard_count %v", s["shard_count"])
			}
			return
		}
		if p.num("shard_headroom") != cost.ShardHeadroom {
			t.Fatalf("shard_headroom %v, cost.ShardHeadroom %v", p.num("shard_headroom"), cost.ShardHeadroom)
		}
		want := float64(cost.Shards(cost.Traffic{EventsPerHour: p.num("expected_events_per_hour"), EventBytes: p.num("expected_event_bytes")}))
		if n, ok := p.vars["shard_count"].(float64); ok {
			want = n
		}
		if s["shard_count"] != want {
			t.Errorf("shard_count %v, want %v", s["shard_count"], want)
		}
	})
	p := plans(t)["defaults"]
	if p.str("stream_mode") != "PROVISIONED" {
		t.Errorf("default stream mode %s", p.str("stream_mode"))
	}
	tr := cost.Traffic{EventsPerHour: p.num("expected_events_per_hour"), EventBytes: p.num("expected_event_bytes")}.Defaults()
	if prov, od := cost.Eventlake(cost.USEast1, tr, true).Total(), cost.Eventlake(cost.USEast1, tr, false).Total(); prov >= od {
		t.Errorf("at the default traffic provisioned costs $%.2f, on-demand $%.2f: the default should be the cheaper", prov, od)
	}
}

var searchRE = regexp.MustCompile(`^SEARCH\('\{([^}]*)\}\s+MetricName="([^"]+)"`)

// TestDashboardShowsTheCodesMetrics: every metric of the functions' own
// namespace on the dashboard is one the code emits (function.Metrics),
// with its dimensions, of a function and source that exist; every metric
// the code emits is on it; and so are the AWS metrics of the stream, the
// functions and every queue.
func TestDashboardShowsTheCodesMetrics(t *testing.T) {
	defaults, err := function.ConfigFromEnv(func(k string) string {
		if k == function.EnvLakeURL {
			return "mem://"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := defaults.MetricsNamespace
	forEach(t, func(t *testing.T, p *plan) {
		var body struct {
			Widgets []struct {
				Type       string
				Properties struct {
					Region  string
					Metrics [][]any
				}
			}
		}
		if err := json.Unmarshal([]byte(p.one(t, "aws_cloudwatch_dashboard.main").After["dashboard_body"].(string)), &body); err != nil {
			t.Fatal(err)
		}
		names := func(typ, attr string) []string {
			var out []string
			for _, r := range p.byType(typ) {
				out = append(out, r.After[attr].(string))
			}
			return out
		}
		dimValues := map[string][]string{
			"FunctionName": names("aws_lambda_function", "function_name"), "Source": function.MetricSources,
			"QueueName": names("aws_sqs_queue", "name"), "StreamName": names("aws_kinesis_stream", "name"),
		}
		emitted := map[string]bool{} // "Metric dim,dim", as the code emits them
		for _, set := range function.Metrics {
			for _, m := range set.Metrics {
				emitted[m+" "+strings.Join(slices.Sorted(slices.Values(set.Dimensions)), ",")] = true
			}
		}
		shown := map[string]bool{}
		for _, w := range body.Widgets {
			if w.Type != "metric" || w.Properties.Region != p.str("region") {
				t.Errorf("widget %+v", w)
			}
			for _, row := range w.Properties.Metrics {
				var namespace, metric string
				var dims []string
				if opts, ok := row[0].(map[string]any); ok {
					m := searchRE.FindStringSubmatch(fmt.Sprint(opts["expression"]))
					if m == nil {
						t.Errorf("metric row %v is neither a metric nor a SEARCH", row)
						continue
					}
					schema := strings.Split(m[1], ",")
					namespace, metric, dims = schema[0], m[2], schema[1:]
				} else {
					namespace, metric = row[0].(string), row[1].(string)
					for i := 2; i+1 < len(row); i += 2 {
						d, ok := row[i].(string)
						if !ok {
							break
						}
						v, _ := row[i+1].(string)
						dims = append(dims, d)
						if known, ok := dimValues[d]; !ok || !slices.Contains(known, v) {
							t.Errorf("%s %s: %s=%s names nothing of the plan", namespace, metric, d, v)
						}
					}
				}
				key := metric + " " + strings.Join(slices.Sorted(slices.Values(dims)), ",")
				switch {
				case namespace == ns:
					if !emitted[key] {
						t.Errorf("the dashboard shows %s/%s by %v, which the code does not emit", ns, metric, dims)
					}
					shown[key] = true
				case strings.HasPrefix(namespace, "AWS/"):
					shown[namespace+" "+key] = true
				default:
					t.Errorf("metric %s in namespace %s, not the functions' %s", metric, namespace, ns)
				}
			}
		}
		for _, set := range function.Metrics {
			if set.Committer {
				if !p.committer() {
					continue // the table's committer's
				}
			} else if slices.Equal(set.Dimensions, []string{"FunctionName"}) && !p.compaction() {
				continue // the compaction function's
			}
			if set.Table && p.vars["iceberg_table"] != true {
				continue // its table maintenance's
			}
			for _, m := range set.Metrics {
				if key := m + " " + strings.Join(slices.Sorted(slices.Values(set.Dimensions)), ","); !shown[key] {
					t.Errorf("the code emits %s by %v; the dashboard does not show it", m, set.Dimensions)
				}
			}
		}
		for _, w := range []string{"AWS/Lambda IteratorAge FunctionName", "AWS/Kinesis GetRecords.IteratorAgeMilliseconds StreamName",
			"AWS/Lambda Errors FunctionName", "AWS/Lambda Throttles FunctionName",
			"AWS/SQS ApproximateNumberOfMessagesVisible QueueName", "AWS/SQS ApproximateAgeOfOldestMessage QueueName"} {
			if !shown[w] {
				t.Errorf("the dashboard lacks %s", w)
			}
		}
		// Every function and queue, not only some.
		count := map[string]int{}
		for _, w := range body.Widgets {
			for _, row := range w.Properties.Metrics {
				if s, ok := row[0].(string); ok && strings.HasPrefix(s, "AWS/") {
					count[s+" "+row[1].(string)]++
				}
			}
		}
		if n := len(names("aws_sqs_queue", "name")); count["AWS/SQS ApproximateNumberOfMessagesVisible"] != n {
			t.Errorf("queue depth of %d queues, the plan has %d", count["AWS/SQS ApproximateNumberOfMessagesVisible"], n)
		}
		if n := len(names("aws_lambda_function", "function_name")); count["AWS/Lambda Errors"] != n || count["AWS/Lambda Throttles"] != n {
			t.Errorf("errors and throttles of %d/%d functions, the plan has %d", count["AWS/Lambda Errors"], count["AWS/Lambda Throttles"], n)
		}
	})
}

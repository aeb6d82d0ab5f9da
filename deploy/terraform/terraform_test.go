// Package terraform holds the deployment's checks that need no AWS
// provider: canonical formatting and the wiring between the configuration
// and the code.
package terraform

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/lake"
)

func files(t *testing.T) map[string][]byte {
	t.Helper()
	names, _ := filepath.Glob("*.tf")
	names = append(names, "terraform.tfvars.example")
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	if len(out) < 5 {
		t.Fatalf("only %d Terraform files found", len(out))
	}
	return out
}

// TestFormatting: every file is as `terraform fmt` / `tofu fmt` writes it
// (hclwrite.Format is the same formatter).
func TestFormatting(t *testing.T) {
	for name, src := range files(t) {
		if got := hclwrite.Format(src); string(got) != string(src) {
			t.Errorf("%s is not canonically formatted (run tofu fmt, or hclwrite.Format)", name)
		}
	}
}

// config is every block of the configuration, parsed.
type config struct {
	blocks []*hclsyntax.Block
	src    map[string][]byte
}

func parse(t *testing.T) config {
	t.Helper()
	c := config{src: map[string][]byte{}}
	for name, src := range files(t) {
		if !strings.HasSuffix(name, ".tf") {
			continue
		}
		f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		c.src[name] = src
		c.blocks = append(c.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return c
}

// find returns the block of the given type and labels.
func (c config) find(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	for _, b := range c.blocks {
		if b.Type == typ && slices.Equal(b.Labels, labels) {
			return b
		}
	}
	t.Fatalf("no %s %v", typ, labels)
	return nil
}

func (c config) all(typ string, label0 string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range c.blocks {
		if b.Type == typ && len(b.Labels) > 0 && b.Labels[0] == label0 {
			out = append(out, b)
		}
	}
	return out
}

// text is the source text of an expression.
func (c config) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(c.src[r.Filename][r.Start.Byte:r.End.Byte])
}

func attr(t *testing.T, b *hclsyntax.Block, name string) *hclsyntax.Attribute {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s %v has no %s", b.Type, b.Labels, name)
	}
	return a
}

func sub(t *testing.T, b *hclsyntax.Block, typ string) *hclsyntax.Block {
	t.Helper()
	for _, s := range b.Body.Blocks {
		if s.Type == typ {
			return s
		}
	}
	t.Fatalf("%s %v has no %s block", b.Type, b.Labels, typ)
	return nil
}

// literal evaluates an expression without variables (strings, lists, maps
// of literals).
func literal(t *testing.T, e hclsyntax.Expression) cty.Value {
	t.Helper()
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("not a literal: %v", diags)
	}
	return v
}

func TestMappingsAreWired(t *testing.T) {
	c := parse(t)
	k := c.find(t, "resource", "aws_lambda_event_source_mapping", "kinesis")
	if got := c.text(attr(t, k, "function_name").Expr); got != "aws_lambda_function.eventlake.arn" {
		t.Errorf("kinesis mapping function_name = %s", got)
	}
	if got := c.text(attr(t, k, "event_source_arn").Expr); got != "aws_kinesis_stream.events.arn" {
		t.Errorf("kinesis mapping event_source_arn = %s", got)
	}
	dest := sub(t, sub(t, k, "destination_config"), "on_failure")
	if got := c.text(attr(t, dest, "destination_arn").Expr); !strings.HasPrefix(got, "aws_sqs_queue.") {
		t.Errorf("on-failure destination = %s, want an SQS queue", got)
	}
	for _, a := range []string{"maximum_retry_attempts", "maximum_record_age_in_seconds", "bisect_batch_on_function_error", "parallelization_factor", "maximum_batching_window_in_seconds", "starting_position", "batch_size"} {
		attr(t, k, a)
	}
	s := c.find(t, "resource", "aws_lambda_event_source_mapping", "ingest")
	if got := c.text(attr(t, s, "event_source_arn").Expr); got != "aws_sqs_queue.ingest.arn" {
		t.Errorf("ingest mapping event_source_arn = %s", got)
	}
	if got := c.text(attr(t, s, "function_name").Expr); got != "aws_lambda_function.eventlake.arn" {
		t.Errorf("ingest mapping function_name = %s", got)
	}
	for _, m := range []*hclsyntax.Block{k, s} {
		v := literal(t, attr(t, m, "function_response_types").Expr)
		if v.LengthInt() != 1 || v.Index(cty.NumberIntVal(0)).AsString() != "ReportBatchItemFailures" {
			t.Errorf("%v: function_response_types = %#v, want ReportBatchItemFailures", m.Labels, v)
		}
	}
}

// TestNoWildcardActions: no Allow statement of any policy document grants a
// wildcard action.
func TestNoWildcardActions(t *testing.T) {
	c := parse(t)
	docs := c.all("data", "aws_iam_policy_document")
	if len(docs) < 4 {
		t.Fatalf("only %d policy documents", len(docs))
	}
	for _, d := range docs {
		for _, st := range d.Body.Blocks {
			if st.Type != "statement" {
				continue
			}
			if e, ok := st.Body.Attributes["effect"]; ok && literal(t, e.Expr).AsString() == "Deny" {
				continue
			}
			a := attr(t, st, "actions")
			text := c.text(a.Expr)
			if strings.Contains(text, "*") {
				t.Errorf("policy %s: an Allow statement grants a wildcard action: %s", d.Labels[1], text)
			}
		}
	}
}

// TestFunctionEnvironmentMatchesTheCode: each function gets exactly the
// variables its code reads, and the handler that picks its job.
func TestFunctionEnvironmentMatchesTheCode(t *testing.T) {
	c := parse(t)
	for _, f := range []struct {
		name, handler string
		vars          []string
	}{
		{"eventlake", "land", function.EnvVars},
		{"compaction", "compact", function.CompactEnvVars},
	} {
		fn := c.find(t, "resource", "aws_lambda_function", f.name)
		vars := attr(t, sub(t, fn, "environment"), "variables").Expr.(*hclsyntax.ObjectConsExpr)
		var got []string
		for _, item := range vars.Items {
			got = append(got, c.text(item.KeyExpr))
		}
		want := append([]string(nil), f.vars...)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: environment sets %v,\n the code reads %v", f.name, got, want)
		}
		for _, a := range []struct{ name, want string }{{"runtime", "provided.al2023"}, {"handler", f.handler}} {
			if got := literal(t, attr(t, fn, a.name).Expr).AsString(); got != a.want {
				t.Errorf("%s: %s = %q, want %q", f.name, a.name, got, a.want)
			}
		}
		if got := c.text(attr(t, fn, "architectures").Expr); got != `["arm64"]` {
			t.Errorf("%s: architectures = %s", f.name, got)
		}
	}
}

// TestCompactionIsScheduled: the schedule invokes the compaction function,
// which may be invoked by that rule only.
func TestCompactionIsScheduled(t *testing.T) {
	c := parse(t)
	target := c.find(t, "resource", "aws_cloudwatch_event_target", "compaction")
	if got := c.text(attr(t, target, "arn").Expr); got != "aws_lambda_function.compaction[0].arn" {
		t.Errorf("schedule target = %s", got)
	}
	if got := c.text(attr(t, target, "rule").Expr); got != "aws_cloudwatch_event_rule.compaction[0].name" {
		t.Errorf("schedule target rule = %s", got)
	}
	if got := c.text(attr(t, c.find(t, "resource", "aws_cloudwatch_event_rule", "compaction"), "schedule_expression").Expr); got != "var.compaction_schedule" {
		t.Errorf("schedule_expression = %s", got)
	}
	perm := c.find(t, "resource", "aws_lambda_permission", "compaction")
	if got := c.text(attr(t, perm, "source_arn").Expr); got != "aws_cloudwatch_event_rule.compaction[0].arn" {
		t.Errorf("permission source_arn = %s", got)
	}
	if got := c.text(attr(t, perm, "function_name").Expr); got != "aws_lambda_function.compaction[0].function_name" {
		t.Errorf("permission function_name = %s", got)
	}
	// The fan-out: the function sends to its queue, the queue's mapping
	// invokes it with partial batch responses.
	m := c.find(t, "resource", "aws_lambda_event_source_mapping", "compaction")
	if got := c.text(attr(t, m, "event_source_arn").Expr); got != "aws_sqs_queue.compaction[0].arn" {
		t.Errorf("compaction mapping source = %s", got)
	}
	if got := c.text(attr(t, m, "function_name").Expr); got != "aws_lambda_function.compaction[0].arn" {
		t.Errorf("compaction mapping function = %s", got)
	}
	if v := literal(t, attr(t, m, "function_response_types").Expr); v.LengthInt() != 1 || v.Index(cty.NumberIntVal(0)).AsString() != "ReportBatchItemFailures" {
		t.Errorf("compaction mapping function_response_types = %#v", v)
	}
	env := c.text(attr(t, sub(t, c.find(t, "resource", "aws_lambda_function", "compaction"), "environment"), "variables").Expr)
	if !strings.Contains(env, "EVENTLAKE_COMPACT_QUEUE_URL       = aws_sqs_queue.compaction[0].url") {
		t.Errorf("the function is not given its queue: %s", env)
	}
	// The "new data" bus announces objects of the lake's format.
	q := sub(t, c.find(t, "resource", "aws_s3_bucket_notification", "lake"), "queue")
	if got := c.text(attr(t, q, "filter_suffix").Expr); got != `var.format == "parquet" ? ".parquet" : local.object_suffix[var.compression]` {
		t.Errorf("new-data suffix filter = %s, want one per format", got)
	}
	var sfxAttr *hclsyntax.Attribute
	for _, b := range c.blocks {
		if a, ok := b.Body.Attributes["object_suffix"]; ok && b.Type == "locals" {
			sfxAttr = a
		}
	}
	if sfxAttr == nil {
		t.Fatal("no local object_suffix")
	}
	sfx := literal(t, sfxAttr.Expr)
	for _, comp := range []lake.Compression{lake.Gzip, lake.Zstd, lake.None} {
		if got := sfx.GetAttr(comp.String()).AsString(); got != comp.Ext() {
			t.Errorf("object_suffix.%s = %q, the code writes %q", comp, got, comp.Ext())
		}
	}
	if lake.ParquetExt != ".parquet" {
		t.Errorf("the code writes Parquet as %s", lake.ParquetExt)
	}
	// Compaction deletes; the landing function must not be able to.
	if got := c.text(attr(t, sub(t, c.find(t, "data", "aws_iam_policy_document", "compaction"), "statement"), "actions").Expr); !strings.Contains(got, "s3:DeleteObject") {
		t.Errorf("compaction cannot delete: %s", got)
	}
	if got := string(c.src["iam.tf"]); strings.Contains(got, "s3:DeleteObject") {
		t.Error("the landing function may delete objects")
	}
}

// TestAthenaViewIsTheCodes: the view Terraform creates is lake.ViewSQL, the
// rule "eventlake query" runs on DuckDB and "eventlake ddl" prints.
func TestAthenaViewIsTheCodes(t *testing.T) {
	tpl, err := os.ReadFile("events_view.sql.tftpl")
	if err != nil {
		t.Fatal(err)
	}
	want := lake.ViewSQL("${select_list}", "${objects}", "${compaction}", "${key}") + ";\n"
	if string(tpl) != want {
		t.Errorf("events_view.sql.tftpl differs from lake.ViewSQL:\n%s\nwant:\n%s", tpl, want)
	}
	c := parse(t)
	glue := string(c.src["glue.tf"])
	for _, s := range []string{
		`key         = "substr(o.\"$path\", ${length(local.lake_location) + 1})"`,
		`lake_location = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/"`,
		`location      = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/_eventlake/compaction/"`,
	} {
		if !strings.Contains(glue, s) {
			t.Errorf("glue.tf lacks %s", s)
		}
	}
	if !strings.HasSuffix(lake.ManifestPrefix, "compaction/") || !strings.HasPrefix(lake.ManifestPrefix, "_eventlake/") {
		t.Errorf("the code keeps manifests under %s", lake.ManifestPrefix)
	}
}

// TestGlueProjectionMatchesTheLayouts: the location templates are the
// code's layouts, and the variable allows exactly those layouts.
func TestGlueProjectionMatchesTheLayouts(t *testing.T) {
	c := parse(t)
	var templates *hclsyntax.Attribute
	for _, b := range c.blocks {
		if b.Type == "locals" {
			if a, ok := b.Body.Attributes["partition_templates"]; ok {
				templates = a
			}
		}
	}
	if templates == nil {
		t.Fatal("no local partition_templates")
	}
	v := literal(t, templates.Expr)
	for _, name := range []string{"daily", "type", "hourly"} {
		l, err := lake.ParseLayout(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.GetAttr(name).AsString(); got != l.Template() {
			t.Errorf("template %s = %q, the code writes %q", name, got, l.Template())
		}
	}
	table := c.find(t, "resource", "aws_glue_catalog_table", "events")
	if got := c.text(attr(t, table, "parameters").Expr); !strings.Contains(got, "local.partition_templates[var.layout]") || !strings.Contains(got, `"projection.enabled"        = "true"`) {
		t.Errorf("the table does not project the layout's template: %s", got)
	}
	if got := c.text(attr(t, sub(t, sub(t, table, "storage_descriptor"), "ser_de_info"), "serialization_library").Expr); got != "local.storage[var.format].serde" {
		t.Errorf("SerDe %s, want the format's", got)
	}
	glue := string(c.src["glue.tf"])
	for _, s := range []string{`serde         = "org.openx.data.jsonserde.JsonSerDe"`, `serde            = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"`} {
		if !strings.Contains(glue, s) {
			t.Errorf("glue.tf lacks %s", s)
		}
	}
	// The variable allows exactly the code's formats.
	for _, f := range []lake.Format{lake.JSONL, lake.Parquet} {
		if !strings.Contains(glue, "    "+f.String()+" = {") {
			t.Errorf("glue.tf has no storage for format %s", f)
		}
	}
}

// TestVariablesAreDeclaredAndValidated: every var.X used is declared with
// a description, and the ones with a closed set of values are validated.
func TestVariablesAreDeclaredAndValidated(t *testing.T) {
	c := parse(t)
	declared := map[string]*hclsyntax.Block{}
	for _, b := range c.blocks {
		if b.Type == "variable" {
			declared[b.Labels[0]] = b
			if _, ok := b.Body.Attributes["description"]; !ok {
				t.Errorf("variable %s has no description", b.Labels[0])
			}
		}
	}
	for name, src := range c.src {
		for _, part := range strings.Split(string(src), "var.")[1:] {
			end := strings.IndexFunc(part, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
			if v := part[:end]; declared[v] == nil {
				t.Errorf("%s uses var.%s, which is not declared", name, v)
			}
		}
	}
	for _, v := range []string{"region", "name_prefix", "environment", "stream_mode", "shard_count", "retention_hours", "batch_size", "batching_window_seconds", "parallelization_factor", "maximum_retry_attempts", "maximum_record_age_seconds", "layout", "compression", "format", "compaction_schedule", "compaction_older_than", "compaction_grace", "compaction_target_size", "compaction_memory_mb", "compaction_concurrency", "lambda_memory_mb", "lambda_timeout_seconds", "log_retention_days"} {
		b := declared[v]
		if b == nil {
			t.Errorf("variable %s is missing", v)
			continue
		}
		has := false
		for _, s := range b.Body.Blocks {
			has = has || s.Type == "validation"
		}
		if !has {
			t.Errorf("variable %s has no validation block", v)
		}
	}
	for _, o := range []string{"stream_name", "stream_arn", "bucket", "ingest_queue_url", "dead_letter_queue_url", "new_data_queue_url", "function_name", "glue_database", "glue_table", "create_events_view", "compaction_function_name"} {
		c.find(t, "output", o)
	}
}

// TestEncryptionEverywhere: the stream, the bucket, every queue and the log
// group use the customer-managed key.
func TestEncryptionEverywhere(t *testing.T) {
	c := parse(t)
	if got := literal(t, attr(t, c.find(t, "resource", "aws_kinesis_stream", "events"), "encryption_type").Expr).AsString(); got != "KMS" {
		t.Errorf("stream encryption %s", got)
	}
	queues := c.all("resource", "aws_sqs_queue")
	if len(queues) < 5 {
		t.Fatalf("%d queues", len(queues))
	}
	for _, q := range queues {
		if got := c.text(attr(t, q, "kms_master_key_id").Expr); got != "aws_kms_key.main.arn" {
			t.Errorf("queue %s encrypted with %s", q.Labels[1], got)
		}
	}
	attr(t, c.find(t, "resource", "aws_cloudwatch_log_group", "function"), "kms_key_id")
	attr(t, c.find(t, "resource", "aws_cloudwatch_log_group", "compaction"), "kms_key_id")
	sse := c.find(t, "resource", "aws_s3_bucket_server_side_encryption_configuration", "lake")
	if got := c.text(attr(t, sub(t, sub(t, sse, "rule"), "apply_server_side_encryption_by_default"), "sse_algorithm").Expr); got != `"aws:kms"` {
		t.Errorf("bucket encryption %s", got)
	}
	pab := c.find(t, "resource", "aws_s3_bucket_public_access_block", "lake")
	for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if !literal(t, attr(t, pab, a).Expr).True() {
			t.Errorf("public access block %s is not true", a)
		}
	}
}

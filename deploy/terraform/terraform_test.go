// Package terraform holds the deployment's tests. Terraform itself runs
// (harness_test.go): fmt, init from a local provider mirror, validate, and
// plans of several variable sets, whose resolved values the checks in
// checks_test.go read. This file keeps the checks a plan cannot show:
// formatting of the example, the variables' declarations and the example's
// completeness, and the functions' environment variable names (the plan
// shows an environment with an unknown value, a queue URL, as unknown as a
// whole).
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

// TestFunctionEnvironmentMatchesTheCode: each function gets exactly the
// variables its code reads, and the settings that must agree with the code
// come from one place.
func TestFunctionEnvironmentMatchesTheCode(t *testing.T) {
	c := parse(t)
	for _, f := range []struct {
		name string
		vars []string
		set  map[string]string // variable -> expression
	}{
		{"eventlake", function.EnvVars, map[string]string{
			function.EnvMetricsNamespace:    "local.metrics_namespace",
			function.EnvLakeURL:             `"s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"`,
			function.EnvDeadLetterQueueURL:  "aws_sqs_queue.dead_letters.url",
			function.EnvLayout:              "var.layout",
			function.EnvTable:               `local.iceberg ? local.iceberg_url : ""`,
			function.EnvTableCommitQueueURL: `local.table_committer ? aws_sqs_queue.table_commits[0].url : ""`,
		}},
		{"compaction", function.CompactEnvVars, map[string]string{
			function.EnvMetricsNamespace:      "local.metrics_namespace",
			function.EnvLakeURL:               `"s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"`,
			function.EnvCompactConcurrency:    "tostring(var.compaction_partitions_at_once)",
			function.EnvCompactQueueURL:       "aws_sqs_queue.compaction[0].url",
			function.EnvTable:                 `local.iceberg ? local.iceberg_url : ""`,
			function.EnvTableExpireOlderThan:  "var.iceberg_expire_older_than",
			function.EnvTableRetainLast:       "tostring(var.iceberg_retain_last)",
			function.EnvTableRememberBatches:  "tostring(var.iceberg_remember_batches)",
			function.EnvTableOrphansOlderThan: "var.iceberg_orphans_older_than",
		}},
	} {
		fn := c.find(t, "resource", "aws_lambda_function", f.name)
		vars := attr(t, sub(t, fn, "environment"), "variables").Expr.(*hclsyntax.ObjectConsExpr)
		var got []string
		for _, item := range vars.Items {
			k := c.text(item.KeyExpr)
			got = append(got, k)
			if want, ok := f.set[k]; ok && c.text(item.ValueExpr) != want {
				t.Errorf("%s: %s = %s, want %s", f.name, k, c.text(item.ValueExpr), want)
			}
		}
		want := append([]string(nil), f.vars...)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: environment sets %v,\n the code reads %v", f.name, got, want)
		}
	}
	// The table's committer reads the landing function's configuration
	// (function.ConfigFromEnv), but commits instead of staging.
	fn := c.find(t, "resource", "aws_lambda_function", "committer")
	vars := c.text(attr(t, sub(t, fn, "environment"), "variables").Expr)
	if want := "merge(aws_lambda_function.eventlake.environment[0].variables, {\n      " + function.EnvTableCommitQueueURL + ` = ""` + "\n    })"; vars != want {
		t.Errorf("committer: environment %s,\n want %s", vars, want)
	}
	// The namespace the dashboard reads is the one the code defaults to.
	def, err := function.ConfigFromEnv(func(k string) string {
		if k == function.EnvLakeURL {
			return "mem://"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := localLiteral(t, c, "metrics_namespace").AsString(); got != def.MetricsNamespace {
		t.Errorf("local.metrics_namespace = %q, the code's default %q", got, def.MetricsNamespace)
	}
}

// localLiteral is the value of a literal local.
func localLiteral(t *testing.T, c config, name string) cty.Value {
	t.Helper()
	for _, b := range c.blocks {
		if a, ok := b.Body.Attributes[name]; ok && b.Type == "locals" {
			return literal(t, a.Expr)
		}
	}
	t.Fatalf("no local %s", name)
	return cty.NilVal
}

// TestObjectSuffixesAreTheCodes: the "new data" notification's suffix per
// compression is the extension the code writes (the plans show gzip and
// zstd; this covers every compression).
func TestObjectSuffixesAreTheCodes(t *testing.T) {
	sfx := localLiteral(t, parse(t), "object_suffix")
	for _, comp := range []lake.Compression{lake.Gzip, lake.Zstd, lake.None} {
		if got := sfx.GetAttr(comp.String()).AsString(); got != comp.Ext() {
			t.Errorf("object_suffix.%s = %q, the code writes %q", comp, got, comp.Ext())
		}
	}
	if got := localLiteral(t, parse(t), "manifest_prefix").AsString(); got != lake.ManifestPrefix {
		t.Errorf("local.manifest_prefix = %q, lake.ManifestPrefix = %q", got, lake.ManifestPrefix)
	}
}

// TestAthenaViewTemplateIsTheCodes: the view's template is lake.ViewSQL
// (the plans compare the rendered view with lake.DDL too).
func TestAthenaViewTemplateIsTheCodes(t *testing.T) {
	tpl, err := os.ReadFile("events_view.sql.tftpl")
	if err != nil {
		t.Fatal(err)
	}
	if want := lake.ViewSQL("${select_list}", "${objects}", "${compaction}", "${key}") + ";\n"; string(tpl) != want {
		t.Errorf("events_view.sql.tftpl differs from lake.ViewSQL:\n%s\nwant:\n%s", tpl, want)
	}
}

// TestExampleSetsEveryVariable: terraform.tfvars.example shows every
// variable, and only those.
func TestExampleSetsEveryVariable(t *testing.T) {
	c := parse(t)
	src := files(t)["terraform.tfvars.example"]
	f, diags := hclsyntax.ParseConfig(src, "terraform.tfvars.example", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	set := f.Body.(*hclsyntax.Body).Attributes
	for _, b := range c.blocks {
		if b.Type == "variable" && set[b.Labels[0]] == nil {
			t.Errorf("terraform.tfvars.example does not set %s", b.Labels[0])
		}
	}
	for name := range set {
		found := false
		for _, b := range c.blocks {
			found = found || (b.Type == "variable" && b.Labels[0] == name)
		}
		if !found {
			t.Errorf("terraform.tfvars.example sets %s, which is not a variable", name)
		}
	}
}

// TestVariablesAreDeclaredAndValidated: every var.X used is declared with
// a description, and every variable with a bounded or closed set of values
// is validated.
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
	unvalidated := []string{"lambda_zip", "versioning", "bisect_batch_on_function_error", "tags", "iceberg_table", "iceberg_committer"} // any value of their type is fine
	for v, b := range declared {
		has := false
		for _, s := range b.Body.Blocks {
			has = has || s.Type == "validation"
		}
		if !has && !slices.Contains(unvalidated, v) {
			t.Errorf("variable %s has no validation block", v)
		}
	}
}

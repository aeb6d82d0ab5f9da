package terraform

import (
	"archive/zip"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// Terraform runs for real: the configuration is copied to a temporary
// folder, initialized once from a local mirror of the AWS provider (no
// network), validated, and planned for each variable set below, with fake
// credentials and a loopback stand-in for the two AWS APIs a plan calls
// (awsStandIn). Nothing is written into the repository.

// varSet is one plan: variables as a tfvars file's content.
type varSet struct {
	name string
	file string         // a tfvars file of the configuration, or ""
	vars map[string]any // written as a .tfvars.json
	// fail: the plan must fail, and its output hold each of these.
	fail []string
}

const (
	accountID = "123456789012"
	fakeEmail = "oncall@example.org"
)

var varSets = []varSet{
	{name: "defaults"},
	{name: "example", file: "terraform.tfvars.example"},
	{name: "parquet-hourly-alarms", vars: map[string]any{
		"format": "parquet", "layout": "hourly", "alarm_email": fakeEmail,
		"versioning": true, "event_types": []string{"payment", "page view"}, "stream_mode": "ON_DEMAND",
	}},
	{name: "no-compaction-zstd-type", vars: map[string]any{
		"compaction_schedule": "", "compression": "zstd", "layout": "type",
		"shard_count": 3, "transition_to_ia_days": 30, "expiration_days": 400, "lake_prefix": "prod/events_v2",
	}},
	// The Iceberg table (iceberg.tf), its warehouse in a nested prefix.
	{name: "iceberg", vars: map[string]any{"iceberg_table": true, "iceberg_prefix": "tables/iceberg"}},
	// The table without its committer: every landing invocation commits.
	{name: "iceberg-direct", vars: map[string]any{"iceberg_table": true, "iceberg_committer": false}},
	{name: "iceberg-refused", vars: map[string]any{"iceberg_table": true, "expiration_days": 400, "iceberg_prefix": "events/w"},
		fail: []string{"iceberg_table needs expiration_days = 0", "iceberg_prefix and lake_prefix must not contain one another"}},
	{name: "iceberg-committer-refused", vars: map[string]any{"iceberg_table": true, "iceberg_commit_window_seconds": 0, "iceberg_orphans_older_than": "6h"},
		fail: []string{"iceberg_commit_batch_size above 10 needs iceberg_commit_window_seconds of at least 1",
			"iceberg_orphans_older_than must be off or whole hours of at least 24h"}},
	// Every validation below fails at once: Terraform reports them all.
	{name: "invalid-variables", vars: map[string]any{
		"name_prefix": "xn--lake", "lake_prefix": "a//b", "event_types": []string{"payment", "a,b"},
		"alarm_email": "oncall", "noncurrent_version_days": 0, "expected_events_per_hour": 0,
	}, fail: []string{
		"may not start with xn--, sthree- or amzn-s3-demo-",
		"The lake prefix must be folders of lower-case letters",
		"Each event type must be non-empty, without commas",
		"alarm_email must be empty or an email address",
		"noncurrent_version_days must be at least 1",
		"expected_events_per_hour must be positive",
	}},
	{name: "invalid-more", vars: map[string]any{
		"lake_prefix": "athena-results/x", "event_types": []string{"payment:x"}, "name_prefix": "lake-",
		"iceberg_prefix": "w//x", "iceberg_orphans_older_than": "0s", "iceberg_retain_last": 0,
		"iceberg_commit_batch_size": 1001, "iceberg_commit_window_seconds": 301, "iceberg_commit_senders": []string{"operator"},
	}, fail: []string{
		"iceberg_commit_senders must be IAM role ARNs",
		"iceberg_commit_batch_size must be a whole number within 1..1000",
		"iceberg_commit_window_seconds must be a whole number within 0..300",
		"iceberg_orphans_older_than must be a Go duration above zero",
		"iceberg_retain_last must be a whole number, at least 1",
		"The Iceberg prefix must be folders of lower-case letters",
		"The lake prefix may not be in athena-results/",
		"Each event type must be non-empty, without commas",
		"not ending with a dash",
	}},
	// Each variable is valid; the bucket name they make (66 characters) is not.
	{name: "bucket-too-long", vars: map[string]any{
		"name_prefix": strings.Repeat("a", 31), "environment": strings.Repeat("b", 16),
	}, fail: []string{"is 66 characters long; S3 allows 3 to 63"}},
}

// run is what the harness found: each plan, or why there is none.
var run struct {
	once    sync.Once
	skip    string // Terraform or the provider mirror is missing
	err     error  // the harness itself failed
	fmtOut  string // terraform fmt -check -recursive, when it failed
	plans   map[string]*plan
	failed  map[string]string // output of the plans that must fail
	lock    []byte            // .terraform.lock.hcl that init wrote in the copy
	took    time.Duration
	tmp     string
	sts     *httptest.Server
	strayMu sync.Mutex
	stray   []string // AWS requests the stand-in does not expect
}

func TestMain(m *testing.M) {
	code := m.Run()
	if run.sts != nil {
		run.sts.Close()
	}
	if run.tmp != "" {
		os.RemoveAll(run.tmp)
	}
	os.Exit(code)
}

// plans runs Terraform once for the whole package and returns the plans.
// Where Terraform or the provider mirror is missing, the test fails on CI
// (CI set) and is skipped elsewhere.
func plans(t *testing.T) map[string]*plan {
	t.Helper()
	run.once.Do(func() {
		start := time.Now()
		run.err = terraform()
		run.took = time.Since(start)
	})
	if run.skip != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but Terraform cannot run: %s", run.skip)
		}
		t.Skipf("SKIPPED, TERRAFORM NOT RUN: %s (CI would fail here)", run.skip)
	}
	if run.err != nil {
		t.Fatal(run.err)
	}
	return run.plans
}

// pluginDir finds a filesystem mirror holding the AWS provider:
// EVENTLAKE_TF_PLUGIN_DIR, else /opt/tf-plugins, else a search of the
// usual places.
func pluginDir() string {
	if d := os.Getenv("EVENTLAKE_TF_PLUGIN_DIR"); d != "" {
		return d
	}
	// <mirror>/<registry host>/hashicorp/aws/<version>/<os_arch>/<file>
	provider := filepath.Join("*", "hashicorp", "aws", "*", runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-aws_*")
	home, _ := os.UserHomeDir()
	candidates := []string{"/opt/tf-plugins", filepath.Join(home, ".terraform.d", "plugins"), filepath.Join(home, ".local", "share", "terraform", "plugins"),
		"/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"}
	for _, d := range candidates {
		if m, _ := filepath.Glob(filepath.Join(d, provider)); len(m) > 0 {
			return d
		}
	}
	for _, root := range []string{"/opt", "/usr/local", "/usr/share", home} {
		found := ""
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return filepath.SkipDir
			}
			if d.IsDir() && strings.Count(strings.TrimPrefix(p, root), string(filepath.Separator)) > 8 {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasPrefix(d.Name(), "terraform-provider-aws_") {
				// <mirror>/<registry host>/hashicorp/aws/<version>/<os_arch>/<file>
				dir := filepath.Dir(p)
				if filepath.Base(dir) == runtime.GOOS+"_"+runtime.GOARCH {
					found = filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(dir)))))
					return filepath.SkipAll
				}
			}
			return nil
		})
		if found != "" {
			return found
		}
	}
	return ""
}

// awsStandIn answers the two calls a plan makes: STS GetCallerIdentity
// (data.aws_caller_identity, and the provider's own check of its
// credentials) and Kinesis DescribeLimits (the provider checks at plan time
// that the stream fits the account's shard or on-demand stream quota). Any
// other request is recorded, and fails the tests.
func awsStandIn() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "Kinesis_20131202.DescribeLimits" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			fmt.Fprint(w, `{"ShardLimit":500,"OpenShardCount":0,"OnDemandStreamCount":0,"OnDemandStreamCountLimit":50}`)
			return
		}
		r.ParseForm()
		if r.Form.Get("Action") != "GetCallerIdentity" {
			run.strayMu.Lock()
			// The service is the credential scope's fourth part.
			scope := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="), "/")
			service := ""
			if len(scope) > 3 {
				service = scope[3]
			}
			run.stray = append(run.stray, fmt.Sprintf("%s %s %s %s", service, r.Header.Get("X-Amz-Target"), r.URL, r.Form.Encode()))
			run.strayMu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		type result struct {
			Arn     string
			UserId  string
			Account string
		}
		type response struct {
			XMLName          xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
			Result           result   `xml:"GetCallerIdentityResult"`
			ResponseMetadata struct {
				RequestId string
			}
		}
		resp := response{Result: result{Arn: "arn:aws:iam::" + accountID + ":user/eventlake-test", UserId: "AIDAEVENTLAKETEST", Account: accountID}}
		resp.ResponseMetadata.RequestId = "00000000-0000-4000-8000-000000000000"
		w.Header().Set("Content-Type", "text/xml")
		xml.NewEncoder(w).Encode(resp)
	}))
}

// tf runs terraform in dir with env.
type tf struct {
	bin, dir string
	env      []string
}

func (c tf) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func terraform() error {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		run.skip = "no terraform on PATH"
		return nil
	}
	mirror := pluginDir()
	if mirror == "" {
		run.skip = "no local mirror of the hashicorp/aws provider (set EVENTLAKE_TF_PLUGIN_DIR)"
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	run.tmp, err = os.MkdirTemp("", "eventlake-terraform-")
	if err != nil {
		return err
	}
	// The copy keeps the repository's layout, so that the default
	// lambda_zip (../../dist/lambda-arm64.zip) names the stand-in zip.
	dir := filepath.Join(run.tmp, "deploy", "terraform")
	home := filepath.Join(run.tmp, "home")
	for _, d := range []string{dir, home, filepath.Join(run.tmp, "dist"), filepath.Join(run.tmp, "vars")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := copyConfiguration(dir); err != nil {
		return err
	}
	if err := writeZip(filepath.Join(run.tmp, "dist", "lambda-arm64.zip")); err != nil {
		return err
	}
	rc := filepath.Join(run.tmp, "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		return err
	}
	run.sts = awsStandIn()
	c := tf{bin: bin, dir: dir, env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(),
		"TF_DATA_DIR=" + filepath.Join(run.tmp, "tfdata"), "TF_CLI_CONFIG_FILE=" + rc,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AWS_ACCESS_KEY_ID=AKIAEVENTLAKETEST", "AWS_SECRET_ACCESS_KEY=eventlake-test-secret", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
		// Every AWS service to the stand-in, so that a call nobody
		// expected is recorded and fails the test instead of going to
		// the internet.
		"AWS_ENDPOINT_URL_STS=" + run.sts.URL, "AWS_ENDPOINT_URL=" + run.sts.URL,
	}}

	// fmt checks the repository's files as they are; it writes nothing.
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if out, err := (tf{bin: bin, dir: repo, env: c.env}).run(ctx, "fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
		run.fmtOut = out
	}
	if _, err := c.run(ctx, "init", "-backend=false", "-plugin-dir="+mirror, "-input=false", "-no-color"); err != nil {
		return err
	}
	if run.lock, err = os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl")); err != nil {
		return err
	}
	if _, err := c.run(ctx, "validate", "-no-color"); err != nil {
		return err
	}

	run.plans, run.failed = map[string]*plan{}, map[string]string{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2) // two cores: plans are CPU-bound (the provider's schema)
	for _, vs := range varSets {
		g.Go(func() error {
			args := []string{"plan", "-input=false", "-no-color", "-lock=false", "-out=" + filepath.Join(run.tmp, vs.name+".tfplan")}
			switch {
			case vs.file != "":
				args = append(args, "-var-file="+vs.file)
			case vs.vars != nil:
				f := filepath.Join(run.tmp, "vars", vs.name+".tfvars.json")
				b, _ := json.Marshal(vs.vars)
				if err := os.WriteFile(f, b, 0o644); err != nil {
					return err
				}
				args = append(args, "-var-file="+f)
			}
			out, err := c.run(gctx, args...)
			if vs.fail != nil {
				if err == nil {
					return fmt.Errorf("plan %s succeeded; it must fail with %q", vs.name, vs.fail)
				}
				mu.Lock()
				run.failed[vs.name] = out
				mu.Unlock()
				return nil
			}
			if err != nil {
				return fmt.Errorf("plan %s: %w", vs.name, err)
			}
			js, err := c.run(gctx, "show", "-json", filepath.Join(run.tmp, vs.name+".tfplan"))
			if err != nil {
				return err
			}
			p, err := parsePlan(vs.name, []byte(js))
			if err != nil {
				return err
			}
			mu.Lock()
			run.plans[vs.name] = p
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(run.stray) > 0 {
		sort.Strings(run.stray)
		return fmt.Errorf("the plans called AWS APIs other than STS GetCallerIdentity and Kinesis DescribeLimits: %v", run.stray)
	}
	return nil
}

// copyConfiguration copies the configuration's files (not .terraform,
// state or plans) to dir.
func copyConfiguration(dir string) error {
	var names []string
	for _, pat := range []string{"*.tf", "*.tftpl", "terraform.tfvars.example"} {
		m, _ := filepath.Glob(pat)
		names = append(names, m...)
	}
	if len(names) < 5 {
		return errors.New("no Terraform configuration in the test's folder")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeZip writes a stand-in function package: plan only hashes it.
func writeZip(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	z := zip.NewWriter(f)
	w, err := z.Create("bootstrap")
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\n"))
	}
	if err == nil {
		err = z.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Package testservers starts the real local servers the integration tests
// run against: kinesalite (Kinesis), fauxqs (SQS), gofakes3 (S3, in
// process, behind a proxy that can inject faults) and the Lambda runtime
// interface emulator running the real bootstrap (or the one built with
// -tags iceberg), and a loopback Glue Data Catalog stand-in (glue.go,
// in process) that keeps UpdateTable's optimistic concurrency. scripts/servers/install
// puts the first two and the emulator in .cache/; a missing one fails the
// test with the command to run, it never skips.
package testservers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/eventlake/eventlake/internal/lambdabuild"
)

// Root is the module's root folder.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testservers: no go.mod above the working folder")
		}
		dir = parent
	}
}

func need(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("testservers: %s is missing: run scripts/servers/install (scripts/test does)", path)
	}
	return path
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Credentials sets fake AWS credentials and region for the test.
func Credentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// start runs cmd until the test ends and waits until addr accepts
// connections. Its output goes to the test log when the test fails.
func start(t testing.TB, name string, cmd *exec.Cmd, addr string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("--- %s output (last 20 kB) ---\n%s", name, b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("%s exited at start (%v):\n%s", name, err, b)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 30s", name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kinesalite starts kinesalite on loopback and returns its endpoint URL. It
// runs through scripts/servers/kinesalite.js, which keeps it alive when a
// client aborts a request (kinesalite itself dies then; real Kinesis does
// not, and a consumer cancelling an in-flight call is ordinary).
func Kinesalite(t testing.TB) string {
	t.Helper()
	root := Root(t)
	pkg := filepath.Join(root, ".cache/npm/node_modules/kinesalite")
	need(t, filepath.Join(pkg, "index.js"))
	wrapper := need(t, filepath.Join(root, "scripts/servers/kinesalite.js"))
	port := FreePort(t)
	cmd := exec.Command("node", wrapper, pkg, "--port", fmt.Sprint(port), "--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0", "--shardLimit", "100")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "kinesalite", cmd, addr)
	return "http://" + addr
}

// Fauxqs starts fauxqs and returns its endpoint URL.
func Fauxqs(t testing.TB) string {
	t.Helper()
	root := Root(t)
	bin := need(t, filepath.Join(root, ".cache/npm/node_modules/fauxqs/dist/cli.js"))
	port := FreePort(t)
	cmd := exec.Command("node", bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("FAUXQS_PORT=%d", port), "FAUXQS_HOST=localhost", "FAUXQS_LOGGER=false")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "fauxqs", cmd, addr)
	return "http://" + addr
}

// S3 is gofakes3 behind a proxy that can fail requests.
type S3 struct {
	URL     string
	Backend *s3mem.Backend
	// failing: while > 0, each write request is answered with an error (503
	// SlowDown and 500 InternalError in turn) and the count goes down by one.
	failing atomic.Int64
	Failed  atomic.Int64 // requests failed so far
	// age is subtracted from the time the backend stamps on objects.
	age atomic.Int64
}

// clock is the backend's time: now, less the S3's age.
type clock struct{ s *S3 }

func (c clock) Now() time.Time                  { return time.Now().Add(-time.Duration(c.s.age.Load())) }
func (c clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// PutOld stores an object as if it had been written age ago (its
// LastModified), for tests of what depends on an object's age. Nothing
// else may write meanwhile.
func (s *S3) PutOld(t testing.TB, bucket, key string, body []byte, age time.Duration) {
	t.Helper()
	s.age.Store(int64(age))
	defer s.age.Store(0)
	if _, err := s.Backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

// FailWrites makes the next n PUT/POST requests fail, alternately with 503
// SlowDown and 500 InternalError.
func (s *S3) FailWrites(n int64) { s.failing.Store(n) }

// NewS3 starts gofakes3 with the given buckets.
func NewS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	s := &S3{}
	s.Backend = s3mem.New(s3mem.WithTimeSource(clock{s}))
	fake := gofakes3.New(s.Backend).Server()
	proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPut || r.Method == http.MethodPost) && s.failing.Load() > 0 {
			if s.failing.Add(-1) >= 0 {
				status, code := http.StatusServiceUnavailable, "SlowDown"
				if s.Failed.Add(1)%2 == 0 {
					status, code = http.StatusInternalServerError, "InternalError"
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test</Message></Error>`, code)
				return
			}
		}
		fake.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	for _, b := range buckets {
		if err := s.Backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	s.URL = ts.URL
	return s
}

// builds are the bootstraps built so far, one per set of build tags.
var builds struct {
	sync.Mutex
	m map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// RemoveBuilds removes what Bootstrap built. A package whose tests call
// Bootstrap calls it from TestMain, after m.Run.
func RemoveBuilds() {
	builds.Lock()
	defer builds.Unlock()
	for _, b := range builds.m {
		if b.path != "" {
			os.RemoveAll(filepath.Dir(b.path))
		}
	}
}

// Bootstrap builds the Lambda function as the deployment does
// (internal/lambdabuild) for this machine's architecture, once per test
// binary and set of extra build tags ("iceberg": the bootstrap that lands
// into an Iceberg table).
func Bootstrap(t testing.TB, tags ...string) string {
	t.Helper()
	key := strings.Join(tags, ",")
	builds.Lock()
	if builds.m == nil {
		builds.m = map[string]*build{}
	}
	b := builds.m[key]
	if b == nil {
		b = &build{}
		builds.m[key] = b
	}
	builds.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "eventlake-bootstrap-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "bootstrap")
		b.err = lambdabuild.Build(context.Background(), Root(t), runtime.GOARCH, b.path, tags...)
	})
	if b.err != nil {
		t.Fatalf("build bootstrap (tags %q): %v", key, b.err)
	}
	return b.path
}

// Lambda runs the bootstrap under the runtime interface emulator with env
// and returns the invocation URL.
func Lambda(t testing.TB, env map[string]string) string {
	t.Helper()
	return LambdaOf(t, Bootstrap(t), env)
}

// LambdaOf runs the given bootstrap (Bootstrap's, maybe with tags) under
// the runtime interface emulator with env and returns the invocation URL.
func LambdaOf(t testing.TB, bootstrap string, env map[string]string) string {
	t.Helper()
	root := Root(t)
	rie := need(t, filepath.Join(root, ".cache/bin/aws-lambda-rie"))
	port, apiPort := FreePort(t), FreePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), bootstrap)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	start(t, "aws-lambda-rie", cmd, addr)
	return "http://" + addr + "/2015-03-31/functions/function/invocations"
}

// Package lambdabuild is the one way the Lambda function's bootstrap is
// built: for the provided.al2023 runtime (binary named bootstrap), without
// the RPC runtime (lambda.norpc), static (no cgo), reproducible (-trimpath)
// and stripped. scripts/buildlambda (the deployment zips), the integration
// tests (the runtime interface emulator runs it) and bench/kinesis.sh all
// build through it, so what is tested is what is deployed.
package lambdabuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Package is the bootstrap's main package, relative to the module root.
const Package = "./cmd/lambda"

// Command returns the go build command that writes the bootstrap for
// goarch (amd64 or arm64) to out, run in the module root dir, with extra
// build tags if any ("iceberg": the bootstrap that can land into an
// Iceberg table, docs/iceberg.md "Glue and the Lambda").
func Command(ctx context.Context, root, goarch, out string, tags ...string) *exec.Cmd {
	tagList := strings.Join(append([]string{"lambda.norpc"}, tags...), ",")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", tagList, "-trimpath", "-ldflags", "-s -w", "-o", out, Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	return cmd
}

// Build builds the bootstrap for goarch into out, with extra build tags if
// any; the error holds the compiler's output.
func Build(ctx context.Context, root, goarch, out string, tags ...string) error {
	if goarch != "amd64" && goarch != "arm64" {
		return fmt.Errorf("lambdabuild: architecture %q: Lambda runs amd64 (x86_64) or arm64", goarch)
	}
	if b, err := Command(ctx, root, goarch, out, tags...).CombinedOutput(); err != nil {
		return fmt.Errorf("build bootstrap for %s: %w\n%s", goarch, err, b)
	}
	return nil
}

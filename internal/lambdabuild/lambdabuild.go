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
)

// Package is the bootstrap's main package, relative to the module root.
const Package = "./cmd/lambda"

// Command returns the go build command that writes the bootstrap for
// goarch (amd64 or arm64) to out, run in the module root dir.
func Command(ctx context.Context, root, goarch, out string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	return cmd
}

// Build builds the bootstrap for goarch into out; the error holds the
// compiler's output.
func Build(ctx context.Context, root, goarch, out string) error {
	if goarch != "amd64" && goarch != "arm64" {
		return fmt.Errorf("lambdabuild: architecture %q: Lambda runs amd64 (x86_64) or arm64", goarch)
	}
	if b, err := Command(ctx, root, goarch, out).CombinedOutput(); err != nil {
		return fmt.Errorf("build bootstrap for %s: %w\n%s", goarch, err, b)
	}
	return nil
}

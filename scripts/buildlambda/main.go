// Command buildlambda builds the Lambda function's deployment packages:
// bootstrap for provided.al2023, arm64 and amd64, each zipped alone
// (built by internal/lambdabuild, as the tests build it). The bootstrap
// itself stays beside its zip, in OUT/bootstrap-ARCH/bootstrap.
//
//	go run ./scripts/buildlambda            -> dist/lambda-arm64.zip, dist/lambda-amd64.zip
//	go run ./scripts/buildlambda -arch arm64 -out DIR
//	go run ./scripts/buildlambda -tags iceberg -> dist/lambda-iceberg-arm64.zip, ...: the bootstrap
//	    that can land into an Iceberg table (EVENTLAKE_TABLE; docs/iceberg.md)
package main

import (
	"archive/zip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/eventlake/eventlake/internal/lambdabuild"
)

func main() {
	arch := flag.String("arch", "arm64,amd64", "architectures, comma-separated")
	out := flag.String("out", "dist", "output folder")
	tags := flag.String("tags", "", "extra build tags, comma-separated (iceberg)")
	flag.Parse()
	var tagList []string
	if *tags != "" {
		tagList = strings.Split(*tags, ",")
	}
	if err := run(strings.Split(*arch, ","), *out, tagList); err != nil {
		fmt.Fprintln(os.Stderr, "buildlambda:", err)
		os.Exit(1)
	}
}

func run(archs []string, out string, tags []string) error {
	name := strings.Join(append(append([]string{"lambda"}, tags...), ""), "-") // lambda-, lambda-iceberg-
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, arch := range archs {
		dir := filepath.Join(out, "bootstrap-"+strings.TrimPrefix(name, "lambda-")+arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		bin := filepath.Join(dir, "bootstrap")
		if err := lambdabuild.Build(context.Background(), ".", arch, bin, tags...); err != nil {
			return err
		}
		zipPath := filepath.Join(out, name+arch+".zip")
		if err := zipOne(zipPath, bin); err != nil {
			return err
		}
		st, _ := os.Stat(zipPath)
		fmt.Printf("%s (%d bytes)\n", zipPath, st.Size())
	}
	return nil
}

// zipOne writes a zip holding bin as "bootstrap", executable.
func zipOne(zipPath, bin string) error {
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	src, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

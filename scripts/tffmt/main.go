// Command tffmt formats Terraform files canonically, as `terraform fmt` and
// `tofu fmt` do (both use hclwrite.Format), without installing either.
//
//	go run ./scripts/tffmt deploy/terraform        rewrite files that differ
//	go run ./scripts/tffmt -check deploy/terraform  list them and exit 1
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

func main() {
	check := flag.Bool("check", false, "only list files that are not formatted; exit 1 if any")
	flag.Parse()
	bad := 0
	for _, dir := range flag.Args() {
		names, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
		more, _ := filepath.Glob(filepath.Join(dir, "*.tfvars*"))
		for _, name := range append(names, more...) {
			src, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			out := hclwrite.Format(src)
			if bytes.Equal(out, src) {
				continue
			}
			bad++
			fmt.Println(name)
			if !*check {
				if err := os.WriteFile(name, out, 0o644); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
			}
		}
	}
	if *check && bad > 0 {
		os.Exit(1)
	}
}

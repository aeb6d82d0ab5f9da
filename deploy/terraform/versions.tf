terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The release the tests plan with (docs/terraform.md). 6.x changes
      # resources used here; older 5.x releases are untested, and the
      # review of issue 9 found regressions among them.
      version = "~> 5.100.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

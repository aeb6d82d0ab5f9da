# tflint with its built-in Terraform rules only: the AWS ruleset is a
# plugin that would be downloaded, which these machines cannot do.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}

// Package integration holds the end-to-end tests of the serverless path
// against real local servers; it has no code of its own.
package integration

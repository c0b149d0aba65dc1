// Package lint holds tests that enforce the repository's structural rules:
// the dependency direction between top-level packages (DESIGN.md §2) and a
// few source rules that linters do not express. It has no non-test code.
package lint

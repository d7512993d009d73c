// Package pgtest gives each test its own PostgreSQL schema, so tests of
// govkit's PostgreSQL stores can run in parallel and repeatedly against one
// database without interfering.
//
// The database is named by the environment variable GOVKIT_TEST_POSTGRES,
// for example
//
//	GOVKIT_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
//
// When it is unset, tests that use this package are skipped, except when
// CI=true: then they fail, so that a CI run can never pass by silently
// skipping every database test.
package pgtest

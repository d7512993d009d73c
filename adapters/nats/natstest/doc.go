// Package natstest gives each test a JetStream stream of its own on the test
// server, so tests of code that runs on the NATS bus can run repeatedly and
// side by side against one server without seeing each other's messages.
//
// The server is named by the environment variable GOVKIT_TEST_NATS, for
// example
//
//	GOVKIT_TEST_NATS=nats://127.0.0.1:4222 go test ./...
//
// When it is unset, tests that use this package are skipped, except when
// CI=true: then they fail, so that a CI run can never pass by silently
// skipping every NATS test.
package natstest

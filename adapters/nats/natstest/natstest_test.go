package natstest

import "testing"

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		url, ci string
		want    decision
	}{
		{"nats://127.0.0.1:4222", "", useServer},
		{"nats://127.0.0.1:4222", "true", useServer},
		{"", "", skipTest},
		{"  ", "false", skipTest},
		{"", "true", failTest},
		{"", " TRUE ", failTest},
		{"", "1", skipTest},
	} {
		if got := decide(tc.url, tc.ci); got != tc.want {
			t.Errorf("decide(%q, %q) = %v, want %v", tc.url, tc.ci, got, tc.want)
		}
	}
}

func TestStreamName(t *testing.T) {
	a, b := StreamName(), StreamName()
	if a == b || len(a) != len(StreamPrefix)+12 {
		t.Fatalf("StreamName gave %q and %q", a, b)
	}
}

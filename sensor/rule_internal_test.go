package sensor

import (
	"testing"
	"time"
	"unsafe"
)

// The per-(rule, device) state is what a million devices multiply.
func TestRuleStateSize(t *testing.T) {
	if n := unsafe.Sizeof(ruleState{}); n != 40 {
		t.Fatalf("ruleState is %d bytes, documented as 40", n)
	}
	if n := unsafe.Sizeof(ruleAnchors{}); n != 32 {
		t.Fatalf("ruleAnchors is %d bytes, documented as 32", n)
	}
	if n := unsafe.Sizeof(ruleGaps{}); n != 32 {
		t.Fatalf("ruleGaps is %d bytes, documented as 32", n)
	}
}

func TestRuleScheduleNext(t *testing.T) {
	s, err := compileSchedule(&Schedule{Days: nil, From: "08:00", To: "09:00", Zone: "+08:00"})
	if err != nil {
		t.Fatal(err)
	}
	// 2026-10-08 02:00 UTC is 10:00 local: next start is tomorrow 08:00 local.
	at := s.next(ruleMustTime("2026-10-08T02:00:00Z"))
	if !at.Equal(ruleMustTime("2026-10-09T00:00:00Z")) {
		t.Fatalf("next %s", at)
	}
	if at := s.next(ruleMustTime("2026-10-09T00:30:00Z")); !at.Equal(ruleMustTime("2026-10-09T00:30:00Z")) {
		t.Fatalf("inside: %s", at)
	}
	never, _ := compileSchedule(&Schedule{})
	if !never.active(0) {
		t.Fatal("an empty schedule is always active")
	}
}

func ruleMustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

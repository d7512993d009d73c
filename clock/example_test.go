package clock_test

import (
	"fmt"
	"time"

	"github.com/govkit/govkit/clock"
)

// A sign-for SLA: a dispatched case must be signed for within 30 minutes, or
// it escalates, and a reminder goes out 10 minutes before. The test drives
// the clock instead of sleeping.
func ExampleManual() {
	clk := clock.NewManual(time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC))

	var reminder clock.Timer
	escalate := clk.AfterFunc(30*time.Minute, func() {
		fmt.Println(clk.Now().Format("15:04"), "escalated to the district centre")
	})
	reminder = clk.AfterFunc(20*time.Minute, func() {
		fmt.Println(clk.Now().Format("15:04"), "reminder sent")
	})

	clk.Advance(25 * time.Minute)
	fmt.Println(clk.Now().Format("15:04"), "signed for; escalation stopped:", escalate.Stop())
	fmt.Println("reminder still pending:", reminder.Stop(), "timers left:", clk.Pending())

	clk.Advance(time.Hour)
	// Output:
	// 09:20 reminder sent
	// 09:25 signed for; escalation stopped: true
	// reminder still pending: false timers left: 0
}

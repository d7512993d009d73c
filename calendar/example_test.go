package calendar_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/govkit/govkit/calendar"
)

// holidayCalendar is the kind of file a district keeps next to its
// deployment. These dates are illustrative, not the State Council's notice.
const holidayCalendar = `{
  "location": "Asia/Shanghai",
  "holidays": ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04",
               "2026-10-05", "2026-10-06", "2026-10-07"],
  "working_weekends": ["2026-09-27", "2026-10-10"],
  "hours": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}]
}`

// A complaint arrives on the evening before National Day and must be
// handled within 3 working days. The clock starts when the office reopens
// on 8 October; 9 October, the worked Saturday 10 October and Monday 12
// October are the three working days.
func Example_nationalDay() {
	cal, err := calendar.Load(strings.NewReader(holidayCalendar))
	if err != nil {
		panic(err)
	}
	reported := time.Date(2026, 9, 30, 20, 15, 0, 0, cal.Location())

	starts := cal.NextWorkingTime(reported)
	due, _ := cal.AddWorkingDays(reported, 3)
	signFor, _ := cal.AddWorkingDuration(reported, 2*time.Hour)

	const layout = "Mon 2006-01-02 15:04"
	fmt.Println("reported:", reported.Format(layout))
	fmt.Println("starts:  ", starts.Format(layout))
	fmt.Println("sign for:", signFor.Format(layout))
	fmt.Println("handle:  ", due.Format(layout))
	// Output:
	// reported: Wed 2026-09-30 20:15
	// starts:   Thu 2026-10-08 09:00
	// sign for: Thu 2026-10-08 11:00
	// handle:   Mon 2026-10-12 09:00
}

// A Friday-evening report before a weekend on which Sunday is worked: the
// case starts at 09:00 on that Sunday, and 3 working days later (Monday,
// Tuesday, Wednesday) is Wednesday at 09:00.
func ExampleCalendar_AddWorkingDays() {
	cal, _ := calendar.New(calendar.Config{
		WorkingWeekends: []calendar.Date{{Year: 2026, Month: time.September, Day: 27}},
	})
	reported := time.Date(2026, 9, 25, 19, 0, 0, 0, cal.Location())
	due, _ := cal.AddWorkingDays(reported, 3)
	fmt.Println(due.Format("Mon 2006-01-02 15:04"))
	// Output: Wed 2026-09-30 09:00
}

// Two working hours from 17:00, with the office closing at 18:00 and
// opening at 09:00: one hour today, one tomorrow.
func ExampleCalendar_AddWorkingDuration() {
	cal := calendar.Default()
	assigned := time.Date(2026, 9, 23, 17, 0, 0, 0, cal.Location())
	for _, d := range []time.Duration{time.Hour, 2 * time.Hour} {
		due, _ := cal.AddWorkingDuration(assigned, d)
		fmt.Printf("%v: %s\n", d, due.Format("Mon 15:04"))
	}
	// Output:
	// 1h0m0s: Wed 18:00
	// 2h0m0s: Thu 10:00
}

// An SLA of 16 working hours, with the clock stopped while the case waited
// for the citizen to supply documents.
func ExampleCalendar_WorkingDuration() {
	cal := calendar.Default()
	at := func(day, hour int) time.Time { return time.Date(2026, 9, day, hour, 0, 0, 0, cal.Location()) }

	running := [][2]time.Time{
		{at(21, 10), at(22, 11)}, // opened Monday 10:00, suspended Tuesday 11:00: 6h + 2h
		{at(24, 15), at(25, 9)},  // resumed Thursday 15:00, checked Friday 09:00: 3h
	}
	var used time.Duration
	for _, p := range running {
		used += cal.WorkingDuration(p[0], p[1])
	}
	left := 16*time.Hour - used
	due, _ := cal.AddWorkingDuration(at(25, 9), left) // 09:00-12:00, then 14:00-16:00
	fmt.Println("used:", used, "left:", left)
	fmt.Println("due:", due.Format("Mon 2006-01-02 15:04"))
	// Output:
	// used: 11h0m0s left: 5h0m0s
	// due: Fri 2026-09-25 16:00
}

// Configuration mistakes name the field at fault.
func ExampleParse() {
	_, err := calendar.Parse([]byte(`{"holidays": ["2026-10-01"], "working_weekends": ["2026-10-01"]}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, calendar.ErrInvalidConfig))

	var ce *calendar.ConfigError
	if errors.As(err, &ce) {
		fmt.Println(ce.Field)
	}
	// Output:
	// calendar: invalid config: working_weekends[0]: 2026-10-01 is also listed as a holiday
	// true
	// working_weekends[0]
}

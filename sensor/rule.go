package sensor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govkit/govkit/region"
)

// Errors of rules and alarms.
var (
	// ErrInvalidRule is matched by every error about a malformed rule
	// (a *RuleError says which field and why).
	ErrInvalidRule = errors.New("sensor: invalid rule")
	// ErrUnknownRule: no rule with that ID is held.
	ErrUnknownRule = errors.New("sensor: unknown rule")
	// ErrUnknownAlarm: no alarm with that ID is held (never raised, or
	// cleared so long ago that it left the history).
	ErrUnknownAlarm = errors.New("sensor: unknown alarm")
	// ErrAlarmState: the alarm is not in a state that allows the change,
	// such as acknowledging a pending or an already acknowledged alarm.
	ErrAlarmState = errors.New("sensor: illegal alarm transition")
)

// RuleError reports a rule that failed validation: which rule, which field
// (as a JSON path such as "raise[1].op") and why. It matches
// ErrInvalidRule, and Err when set (ErrUnknownProfile for a rule naming a
// profile the registry lacks, a *json.SyntaxError for bad JSON).
type RuleError struct {
	Rule   string // the rule's ID, if it got that far
	Field  string // JSON path of the offending field; empty for the whole rule
	Reason string
	Err    error // an underlying cause, or nil
}

// Error describes the problem.
func (e *RuleError) Error() string {
	var b strings.Builder
	b.WriteString("sensor: invalid rule")
	if e.Rule != "" {
		b.WriteString(" " + strconv.Quote(e.Rule))
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Reason)
	if e.Err != nil && !strings.Contains(e.Reason, e.Err.Error()) {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrInvalidRule and the cause.
func (e *RuleError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidRule}
	}
	return []error{ErrInvalidRule, e.Err}
}

// Severity ranks alarms, as ThingsBoard does. The zero value means "not
// given": a raise condition without one is Major.
type Severity uint8

// Severities, least to most severe.
const (
	Warning Severity = iota + 1
	Minor
	Major
	Critical
)

var ruleSeverityNames = [...]string{"", "warning", "minor", "major", "critical"}

// String returns the severity's name, such as "major".
func (s Severity) String() string {
	if int(s) < len(ruleSeverityNames) && s > 0 {
		return ruleSeverityNames[s]
	}
	if s == 0 {
		return ""
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// MarshalText writes the name.
func (s Severity) MarshalText() ([]byte, error) {
	if s > Critical {
		return nil, fmt.Errorf("sensor: unknown severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a name: "warning", "minor", "major" or "critical".
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range ruleSeverityNames {
		if i > 0 && n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q (want warning, minor, major or critical)", b)
}

// ConditionKind says what a Condition tests.
type ConditionKind uint8

// Condition kinds. The zero value is read as Threshold.
const (
	// Threshold compares the reading with Value using Op.
	Threshold ConditionKind = iota + 1
	// Range holds when the reading lies inside [Low, High], or outside it
	// when Outside is set.
	Range
	// Rate compares the change of the value over Window with Value using
	// Op: "falls by more than 0.1 MPa within 5 minutes" is Op "<", Value
	// -0.1, Window 5m. See Condition for how the change is measured.
	Rate
	// Missing holds when the device has not reported the resource for
	// longer than its heartbeat timeout. It is evaluated on timers, not on
	// readings: see Condition.After, Multiple and Learn.
	Missing
)

var ruleKindNames = [...]string{"", "threshold", "range", "rate", "missing"}

// String returns the kind's name, such as "rate".
func (k ConditionKind) String() string {
	if int(k) < len(ruleKindNames) && k > 0 {
		return ruleKindNames[k]
	}
	return fmt.Sprintf("ConditionKind(%d)", uint8(k))
}

// MarshalText writes the name.
func (k ConditionKind) MarshalText() ([]byte, error) {
	if k == 0 || k > Missing {
		return nil, fmt.Errorf("sensor: unknown condition kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a name.
func (k *ConditionKind) UnmarshalText(b []byte) error {
	for i, n := range ruleKindNames {
		if i > 0 && n == string(b) {
			*k = ConditionKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown condition kind %q (want threshold, range, rate or missing)", b)
}

// Comparison operators of Threshold and Rate conditions.
const (
	OpAbove     = ">"
	OpAtOrAbove = ">="
	OpBelow     = "<"
	OpAtOrBelow = "<="
)

// Bounds of a rule.
const (
	ruleMaxLevels  = 8
	ruleMaxCount   = 10_000
	ruleMaxFor     = 31 * 24 * time.Hour
	ruleMaxLabels  = 32
	ruleMaxNameLen = 256
)

// Condition is one test of a rule: a level of its severity ladder (Raise)
// or its clear condition (Clear).
//
// A Rate condition measures the change of the value over Window against a
// reference reading the engine keeps per device: the oldest of two anchors
// no older than Window, so that once a device has reported for half a
// Window the reference is between Window/2 and Window old, and the change
// is scaled to a whole Window. Before that the unscaled change since the
// first reading is used, so a young history never extrapolates noise. Two
// anchors cost 32 bytes per device instead of a window of readings.
//
// A Missing condition's timeout is After when Learn is false. Otherwise it
// is Multiple (default 3) times the device's median gap between its last
// seven readings once it has three, and until then After, or Multiple
// times the resource's Interval. Without Learn and After it is Multiple
// times the resource's Interval.
type Condition struct {
	Kind ConditionKind
	// Severity of a Raise level (default Major); must be zero in Clear.
	Severity Severity
	// Op and Value: Threshold and Rate.
	Op    string
	Value float64
	// Low, High and Outside: Range.
	Low, High float64
	Outside   bool
	// Window: Rate.
	Window time.Duration
	// After, Multiple and Learn: Missing.
	After    time.Duration
	Multiple float64
	Learn    bool
}

// Scope says which devices a rule watches: those of Profile, for their
// Resource, narrowed by any of Grid, Labels and Asset.
type Scope struct {
	Profile  string
	Resource string
	// Grid limits the rule to a grid subtree and is the rule's
	// jurisdiction for the access layer: a rule without one covers every
	// device and only an actor the authorizer lets manage city-wide rules
	// (access.AllowAll, say) may add it. Give the city's code for a
	// city-wide rule.
	Grid region.Code
	// Labels, if set, limit the rule to devices carrying every one of them.
	Labels map[string]string
	// Asset, if set, limits the rule to the devices on one asset.
	Asset string
}

// Schedule is when a rule is active: on Days (every day when empty),
// between From and To ("HH:MM", local to Zone; all day when both are
// empty; a To before From runs past midnight into the next day, and
// belongs to the day it starts on). Outside its schedule a rule raises
// nothing: readings are not tested, pending alarms are dropped and missing
// heartbeats wait for the schedule to start again; alarms already active
// may still clear.
type Schedule struct {
	Days     []time.Weekday
	From, To string
	// Zone is an IANA zone name ("Asia/Shanghai") or a fixed offset
	// ("+08:00"); default UTC.
	Zone string
}

// Correlation merges the alarms of devices on one asset: when MinDevices
// (default 2) devices on the same asset meet the rule within Window, they
// raise one burst alarm for the asset instead of one each, located at the
// centroid of their positions weighted by how far each one's reading went
// past the condition (see Alarm.Location). A device whose condition is
// met waits up to Window for others; if none join, its own alarm is
// raised then. Devices without an asset alarm on their own at once.
type Correlation struct {
	// By is what devices must share; only "asset" is supported.
	By         string
	Window     time.Duration
	MinDevices int
}

// Rule is an alarm rule, as data: JSON-loadable (ParseRule) and checked by
// Validate, then by Engine.AddRule against the registry.
//
// The engine raises an alarm for a device when one of the Raise levels
// holds for Count readings in a row (if Count > 1) and continuously for
// For (if set); the alarm's severity is that of the most severe level
// holding, and follows the readings while the alarm is active, updating
// the one alarm in place. It clears when Clear holds, or, without Clear,
// when no level holds: give Clear (raise > 0.8, clear < 0.6) so that a
// value hovering around one threshold does not flap.
//
// A Missing rule has one Raise level and nothing else but Scope and
// Schedule: its timeout is its duration, and it clears at the device's
// next reading.
type Rule struct {
	ID    string
	Name  string // for people; optional
	Scope Scope
	// Raise is the severity ladder: one to eight conditions, each with a
	// distinct severity.
	Raise []Condition
	// Clear, if set, is the clear condition (hysteresis); not Missing.
	Clear *Condition
	// For is how long a level must hold, in event time between readings
	// and on the engine's clock between them, before the alarm is raised;
	// until then the alarm is pending.
	For time.Duration
	// Count is how many readings in a row must meet a level ("5 in a
	// row"); 0 and 1 mean one.
	Count int
	// Deadband, if positive, ignores readings that differ by less from the
	// last reading the rule evaluated: they neither count nor change state.
	Deadband  float64
	Schedule  *Schedule
	Correlate *Correlation
}

// Validate checks everything about r that does not depend on a registry;
// Engine.AddRule also checks the profile and resource. The error is a
// *RuleError.
func (r *Rule) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &RuleError{Rule: r.ID, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !validName(r.ID):
		return bad("id", "must be 1-64 characters of letters, digits, '-', '_' or '.'")
	case len(r.Name) > ruleMaxNameLen:
		return bad("name", "longer than %d bytes", ruleMaxNameLen)
	case !validName(r.Scope.Profile):
		return bad("scope.profile", "must name a profile")
	case !validName(r.Scope.Resource):
		return bad("scope.resource", "must name a resource of the profile")
	case len(r.Scope.Labels) > ruleMaxLabels:
		return bad("scope.labels", "more than %d labels", ruleMaxLabels)
	case len(r.Scope.Asset) > ruleMaxNameLen:
		return bad("scope.asset", "longer than %d bytes", ruleMaxNameLen)
	}
	if r.Scope.Grid != "" {
		if _, err := region.ParseCode(string(r.Scope.Grid)); err != nil {
			return &RuleError{Rule: r.ID, Field: "scope.grid", Reason: "not a unit code", Err: err}
		}
	}
	if len(r.Raise) == 0 || len(r.Raise) > ruleMaxLevels {
		return bad("raise", "needs 1 to %d conditions", ruleMaxLevels)
	}
	seen := map[Severity]bool{}
	missing := false
	for i := range r.Raise {
		c := &r.Raise[i]
		field := fmt.Sprintf("raise[%d]", i)
		if err := c.validate(r.ID, field); err != nil {
			return err
		}
		sev := c.Severity
		if sev == 0 {
			sev = Major
		}
		if sev > Critical {
			return bad(field+".severity", "unknown severity %d", uint8(sev))
		}
		if seen[sev] {
			return bad(field+".severity", "%s given twice: each level of the ladder needs its own severity", sev)
		}
		seen[sev] = true
		missing = missing || c.kind() == Missing
	}
	if missing && len(r.Raise) > 1 {
		return bad("raise", "a missing-heartbeat condition must be the rule's only one")
	}
	if r.Clear != nil {
		switch {
		case r.Clear.kind() == Missing:
			return bad("clear.kind", "missing cannot clear an alarm")
		case r.Clear.Severity != 0:
			return bad("clear.severity", "a clear condition has no severity")
		}
		if err := r.Clear.validate(r.ID, "clear"); err != nil {
			return err
		}
	}
	switch {
	case r.For < 0 || r.For > ruleMaxFor:
		return bad("for", "must be between 0 and %s", ruleMaxFor)
	case r.Count < 0 || r.Count > ruleMaxCount:
		return bad("count", "must be between 0 and %d", ruleMaxCount)
	case r.Deadband < 0 || math.IsNaN(r.Deadband) || math.IsInf(r.Deadband, 0):
		return bad("deadband", "must be a finite number, zero or more")
	case missing && r.Clear != nil:
		return bad("clear", "a missing-heartbeat rule clears at the next reading")
	case missing && (r.For != 0 || r.Count > 1 || r.Deadband != 0):
		return bad("raise[0]", "a missing-heartbeat rule takes no for, count or deadband: its timeout is its duration")
	case missing && r.Correlate != nil:
		return bad("correlate", "missing heartbeats are correlated by storm control, not by asset")
	}
	var window time.Duration
	for i, c := range append(slices.Clip(r.Raise), ruleDeref(r.Clear)...) {
		if c.kind() != Rate {
			continue
		}
		if window != 0 && c.Window != window {
			field := fmt.Sprintf("raise[%d].window", i)
			if i == len(r.Raise) {
				field = "clear.window"
			}
			return bad(field, "every rate condition of a rule must share one window (%s)", window)
		}
		window = c.Window
	}
	if r.Schedule != nil {
		if _, err := compileSchedule(r.Schedule); err != nil {
			return &RuleError{Rule: r.ID, Field: "schedule", Reason: err.Error()}
		}
	}
	if c := r.Correlate; c != nil {
		switch {
		case c.By != "asset":
			return bad("correlate.by", "must be \"asset\"")
		case c.Window <= 0 || c.Window > ruleMaxFor:
			return bad("correlate.window", "must be positive and at most %s", ruleMaxFor)
		case c.MinDevices < 0 || c.MinDevices == 1 || c.MinDevices > 10_000:
			return bad("correlate.min_devices", "must be 2 to 10000 (0 for 2)")
		}
	}
	return nil
}

func ruleDeref(c *Condition) []Condition {
	if c == nil {
		return nil
	}
	return []Condition{*c}
}

func (c *Condition) kind() ConditionKind {
	if c.Kind == 0 {
		return Threshold
	}
	return c.Kind
}

func ruleFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (c *Condition) validate(rule, field string) error {
	bad := func(sub, format string, args ...any) error {
		return &RuleError{Rule: rule, Field: field + sub, Reason: fmt.Sprintf(format, args...)}
	}
	validOp := c.Op == OpAbove || c.Op == OpAtOrAbove || c.Op == OpBelow || c.Op == OpAtOrBelow
	k := c.kind()
	if k > Missing {
		return bad(".kind", "unknown kind %d", uint8(c.Kind))
	}
	if k != Range && (c.Low != 0 || c.High != 0 || c.Outside) {
		return bad("", "low, high and outside belong to a range condition")
	}
	if k != Rate && c.Window != 0 {
		return bad(".window", "belongs to a rate condition")
	}
	if k != Missing && (c.After != 0 || c.Multiple != 0 || c.Learn) {
		return bad("", "after, multiple and learn belong to a missing condition")
	}
	switch k {
	case Threshold, Rate:
		if !validOp {
			return bad(".op", "must be one of >, >=, <, <= (got %q)", c.Op)
		}
		if !ruleFinite(c.Value) {
			return bad(".value", "must be a finite number")
		}
		if k == Rate && (c.Window <= 0 || c.Window > ruleMaxFor) {
			return bad(".window", "a rate needs a positive window of at most %s", ruleMaxFor)
		}
	case Range:
		switch {
		case c.Op != "" || c.Value != 0:
			return bad("", "a range takes low and high, not op and value")
		case !ruleFinite(c.Low) || !ruleFinite(c.High):
			return bad("", "low and high must be finite numbers")
		case c.Low > c.High:
			return bad(".low", "above high")
		}
	case Missing:
		switch {
		case c.Op != "" || c.Value != 0:
			return bad("", "a missing condition takes after, multiple or learn, not op and value")
		case c.After < 0 || c.After > ruleMaxFor:
			return bad(".after", "must be between 0 and %s", ruleMaxFor)
		case c.Multiple < 0 || !ruleFinite(c.Multiple) || c.Multiple > 1000:
			return bad(".multiple", "must be between 0 and 1000 (0 for 3)")
		case c.Multiple != 0 && c.Multiple < 1:
			return bad(".multiple", "below 1 would call a device on time missing")
		}
	}
	return nil
}

// ParseRule decodes a rule from JSON and validates it. Unknown fields are
// errors, so that a misspelt "clear" does not silently leave an alarm
// without hysteresis. Every error is a *RuleError.
//
//	{"id": "main-pressure-low",
//	 "scope": {"profile": "pipe-pressure", "resource": "pressure", "grid": "500107"},
//	 "raise": [{"severity": "critical", "op": "<", "value": 0.15},
//	           {"severity": "major", "op": "<", "value": 0.25}],
//	 "clear": {"op": ">", "value": 0.3},
//	 "for": "2m"}
func ParseRule(data []byte) (Rule, error) {
	var r Rule
	if err := ruleStrictJSON(data, &r); err != nil {
		return Rule{}, ruleJSONError(r.ID, err)
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// ParseRules decodes a JSON array of rules and validates each; the error
// names the first bad rule.
func ParseRules(data []byte) ([]Rule, error) {
	var raw []json.RawMessage
	if err := ruleStrictJSON(data, &raw); err != nil {
		return nil, ruleJSONError("", err)
	}
	out := make([]Rule, 0, len(raw))
	ids := map[string]bool{}
	for i, m := range raw {
		r, err := ParseRule(m)
		if err != nil {
			var re *RuleError
			if errors.As(err, &re) {
				re.Field = strings.TrimSuffix(fmt.Sprintf("[%d].%s", i, re.Field), ".")
			}
			return nil, err
		}
		if ids[r.ID] {
			return nil, &RuleError{Rule: r.ID, Field: fmt.Sprintf("[%d].id", i), Reason: "given twice", Err: ErrDuplicate}
		}
		ids[r.ID] = true
		out = append(out, r)
	}
	return out, nil
}

func ruleStrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func ruleJSONError(id string, err error) error {
	var re *RuleError
	if errors.As(err, &re) {
		if re.Rule == "" {
			re.Rule = id
		}
		return re
	}
	field := ""
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field = te.Field
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &RuleError{Rule: id, Field: field, Reason: "unknown field"}
	}
	return &RuleError{Rule: id, Field: field, Reason: "malformed JSON", Err: err}
}

// ruleDuration reads and writes durations as Go duration strings ("10m").
type ruleDuration time.Duration

func (d ruleDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

type ruleConditionJSON struct {
	Kind     ConditionKind `json:"kind,omitempty"`
	Severity Severity      `json:"severity,omitempty"`
	Op       string        `json:"op,omitempty"`
	Value    *float64      `json:"value,omitempty"`
	Low      *float64      `json:"low,omitempty"`
	High     *float64      `json:"high,omitempty"`
	Outside  bool          `json:"outside,omitempty"`
	Window   ruleDuration  `json:"window,omitempty"`
	After    ruleDuration  `json:"after,omitempty"`
	Multiple float64       `json:"multiple,omitempty"`
	Learn    bool          `json:"learn,omitempty"`
}

// MarshalJSON writes the condition with durations as strings.
func (c Condition) MarshalJSON() ([]byte, error) {
	j := ruleConditionJSON{Kind: c.kind(), Severity: c.Severity, Op: c.Op, Outside: c.Outside,
		Window: ruleDuration(c.Window), After: ruleDuration(c.After), Multiple: c.Multiple, Learn: c.Learn}
	switch c.kind() {
	case Threshold, Rate:
		j.Value = &c.Value
	case Range:
		j.Low, j.High = &c.Low, &c.High
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a condition; a missing kind means threshold. Errors
// are *RuleError with the field relative to the condition.
func (c *Condition) UnmarshalJSON(b []byte) error {
	var j ruleConditionIn
	if err := ruleDecode(b, &j); err != nil {
		return err
	}
	*c = Condition{Op: j.Op, Outside: j.Outside, Multiple: j.Multiple, Learn: j.Learn}
	if j.Kind != "" {
		if err := c.Kind.UnmarshalText([]byte(j.Kind)); err != nil {
			return &RuleError{Field: "kind", Reason: err.Error()}
		}
	} else {
		c.Kind = Threshold
	}
	if j.Severity != "" {
		if err := c.Severity.UnmarshalText([]byte(j.Severity)); err != nil {
			return &RuleError{Field: "severity", Reason: err.Error()}
		}
	}
	var err error
	if c.Window, err = ruleParseDuration("window", j.Window); err != nil {
		return err
	}
	if c.After, err = ruleParseDuration("after", j.After); err != nil {
		return err
	}
	if j.Value != nil {
		c.Value = *j.Value
	}
	if j.Low != nil {
		c.Low = *j.Low
	}
	if j.High != nil {
		c.High = *j.High
	}
	return nil
}

type ruleConditionIn struct {
	Kind     string   `json:"kind"`
	Severity string   `json:"severity"`
	Op       string   `json:"op"`
	Value    *float64 `json:"value"`
	Low      *float64 `json:"low"`
	High     *float64 `json:"high"`
	Outside  bool     `json:"outside"`
	Window   string   `json:"window"`
	After    string   `json:"after"`
	Multiple float64  `json:"multiple"`
	Learn    bool     `json:"learn"`
}

// ruleDecode decodes strictly; errors are *RuleError naming an unknown
// field or wrapping the JSON error.
func ruleDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var re *RuleError
		if errors.As(err, &re) {
			return re
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &RuleError{Field: strings.Trim(name, `"`), Reason: "unknown field"}
		}
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		}
		return &RuleError{Field: field, Reason: "malformed JSON", Err: err}
	}
	return nil
}

func ruleParseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &RuleError{Field: field, Reason: fmt.Sprintf("bad duration %q (want e.g. \"90s\", \"10m\", \"1h30m\")", s)}
	}
	return d, nil
}

// ruleWithin prefixes a nested RuleError's field with the path above it.
func ruleWithin(err error, path string) error {
	var re *RuleError
	if !errors.As(err, &re) {
		return &RuleError{Field: path, Reason: "malformed JSON", Err: err}
	}
	switch {
	case re.Field == "":
		re.Field = path
	case path == "":
	default:
		re.Field = path + "." + re.Field
	}
	return re
}

type ruleScopeJSON struct {
	Profile  string            `json:"profile"`
	Resource string            `json:"resource"`
	Grid     region.Code       `json:"grid,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Asset    string            `json:"asset,omitempty"`
}

type ruleScheduleJSON struct {
	Days []string `json:"days,omitempty"`
	From string   `json:"from,omitempty"`
	To   string   `json:"to,omitempty"`
	Zone string   `json:"zone,omitempty"`
}

type ruleCorrelationJSON struct {
	By         string       `json:"by"`
	Window     ruleDuration `json:"window"`
	MinDevices int          `json:"min_devices,omitempty"`
}

type ruleJSON struct {
	ID        string               `json:"id"`
	Name      string               `json:"name,omitempty"`
	Scope     ruleScopeJSON        `json:"scope"`
	Raise     []Condition          `json:"raise"`
	Clear     *Condition           `json:"clear,omitempty"`
	For       ruleDuration         `json:"for,omitempty"`
	Count     int                  `json:"count,omitempty"`
	Deadband  float64              `json:"deadband,omitempty"`
	Schedule  *ruleScheduleJSON    `json:"schedule,omitempty"`
	Correlate *ruleCorrelationJSON `json:"correlate,omitempty"`
}

var ruleWeekdayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// MarshalJSON writes the rule in the form ParseRule reads.
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{ID: r.ID, Name: r.Name, Scope: ruleScopeJSON(r.Scope), Raise: r.Raise, Clear: r.Clear,
		For: ruleDuration(r.For), Count: r.Count, Deadband: r.Deadband}
	if s := r.Schedule; s != nil {
		j.Schedule = &ruleScheduleJSON{From: s.From, To: s.To, Zone: s.Zone}
		for _, d := range s.Days {
			if d < time.Sunday || d > time.Saturday {
				return nil, fmt.Errorf("sensor: rule %q: bad weekday %d", r.ID, d)
			}
			j.Schedule.Days = append(j.Schedule.Days, ruleWeekdayNames[d])
		}
	}
	if c := r.Correlate; c != nil {
		j.Correlate = &ruleCorrelationJSON{By: c.By, Window: ruleDuration(c.Window), MinDevices: c.MinDevices}
	}
	return json.Marshal(j)
}

type ruleIn struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Scope     json.RawMessage   `json:"scope"`
	Raise     []json.RawMessage `json:"raise"`
	Clear     json.RawMessage   `json:"clear"`
	For       string            `json:"for"`
	Count     int               `json:"count"`
	Deadband  float64           `json:"deadband"`
	Schedule  json.RawMessage   `json:"schedule"`
	Correlate json.RawMessage   `json:"correlate"`
}

type ruleCorrelationIn struct {
	By         string `json:"by"`
	Window     string `json:"window"`
	MinDevices int    `json:"min_devices"`
}

// UnmarshalJSON reads a rule without validating it (ParseRule validates).
// Errors are *RuleError with the field's JSON path.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var j ruleIn
	err := ruleDecode(b, &j)
	r.ID = j.ID
	if err != nil {
		return err
	}
	*r = Rule{ID: j.ID, Name: j.Name, Count: j.Count, Deadband: j.Deadband}
	bad := func(err error, path string) error {
		err = ruleWithin(err, path)
		var re *RuleError
		if errors.As(err, &re) {
			re.Rule = j.ID
		}
		return err
	}
	if len(j.Scope) > 0 {
		var sc ruleScopeJSON
		if err := ruleDecode(j.Scope, &sc); err != nil {
			return bad(err, "scope")
		}
		r.Scope = Scope(sc)
	}
	for i, raw := range j.Raise {
		var c Condition
		if err := c.UnmarshalJSON(raw); err != nil {
			return bad(err, fmt.Sprintf("raise[%d]", i))
		}
		r.Raise = append(r.Raise, c)
	}
	if len(j.Clear) > 0 && string(j.Clear) != "null" {
		r.Clear = new(Condition)
		if err := r.Clear.UnmarshalJSON(j.Clear); err != nil {
			return bad(err, "clear")
		}
	}
	if r.For, err = ruleParseDuration("for", j.For); err != nil {
		return bad(err, "")
	}
	if len(j.Schedule) > 0 && string(j.Schedule) != "null" {
		var sj ruleScheduleJSON
		if err := ruleDecode(j.Schedule, &sj); err != nil {
			return bad(err, "schedule")
		}
		r.Schedule = &Schedule{From: sj.From, To: sj.To, Zone: sj.Zone}
		for i, name := range sj.Days {
			d := -1
			for k, n := range ruleWeekdayNames {
				if strings.EqualFold(name, n) || strings.EqualFold(name, time.Weekday(k).String()) {
					d = k
				}
			}
			if d < 0 {
				return &RuleError{Rule: j.ID, Field: fmt.Sprintf("schedule.days[%d]", i), Reason: fmt.Sprintf("unknown day %q (want mon, tue, ...)", name)}
			}
			r.Schedule.Days = append(r.Schedule.Days, time.Weekday(d))
		}
	}
	if len(j.Correlate) > 0 && string(j.Correlate) != "null" {
		var cj ruleCorrelationIn
		if err := ruleDecode(j.Correlate, &cj); err != nil {
			return bad(err, "correlate")
		}
		w, err := ruleParseDuration("window", cj.Window)
		if err != nil {
			return bad(err, "correlate")
		}
		r.Correlate = &Correlation{By: cj.By, Window: w, MinDevices: cj.MinDevices}
	}
	return nil
}

// ruleSchedule is a compiled Schedule.
type ruleSchedule struct {
	loc      *time.Location
	days     uint8 // bit per weekday
	from, to int   // minutes of the day
	allDay   bool
	// a one-minute cache of the last answer, in Unix minutes
	cacheMin int64
	cacheOn  bool
}

func compileSchedule(s *Schedule) (*ruleSchedule, error) {
	cs := &ruleSchedule{loc: time.UTC, cacheMin: math.MinInt64}
	for _, d := range s.Days {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("bad weekday %d", d)
		}
		cs.days |= 1 << d
	}
	if cs.days == 0 {
		cs.days = 0x7f
	}
	parse := func(name, v string) (int, error) {
		t, err := time.Parse("15:04", v)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not HH:MM", name, v)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	switch {
	case s.From == "" && s.To == "":
		cs.allDay = true
	case s.From == "" || s.To == "":
		return nil, errors.New("give both from and to, or neither")
	default:
		var err error
		if cs.from, err = parse("from", s.From); err != nil {
			return nil, err
		}
		if cs.to, err = parse("to", s.To); err != nil {
			return nil, err
		}
		if cs.from == cs.to {
			return nil, errors.New("from equals to: leave both out for all day")
		}
	}
	if s.Zone != "" {
		if z := s.Zone; len(z) == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':' {
			t, err := time.Parse("-07:00", z)
			if err != nil {
				return nil, fmt.Errorf("zone %q: bad offset", z)
			}
			_, off := t.Zone()
			cs.loc = time.FixedZone(z, off)
		} else {
			loc, err := time.LoadLocation(z)
			if err != nil {
				return nil, fmt.Errorf("zone %q: %v", z, err)
			}
			cs.loc = loc
		}
	}
	return cs, nil
}

// active reports whether the schedule covers the instant ns (Unix
// nanoseconds). Answers are cached for the minute, which is exact: zone
// transitions fall on whole minutes.
func (s *ruleSchedule) active(ns int64) bool {
	m := ns / int64(time.Minute)
	if ns < 0 && ns%int64(time.Minute) != 0 {
		m--
	}
	if m == s.cacheMin {
		return s.cacheOn
	}
	on := s.at(time.Unix(0, ns))
	s.cacheMin, s.cacheOn = m, on
	return on
}

func (s *ruleSchedule) at(t time.Time) bool {
	lt := t.In(s.loc)
	day := func(d time.Weekday) bool { return s.days&(1<<((d+7)%7)) != 0 }
	if s.allDay {
		return day(lt.Weekday())
	}
	m := lt.Hour()*60 + lt.Minute()
	if s.from < s.to {
		return day(lt.Weekday()) && m >= s.from && m < s.to
	}
	return (m >= s.from && day(lt.Weekday())) || (m < s.to && day(lt.Weekday()-1))
}

// next returns the first instant at or after t at which the schedule is
// active (t itself when it is), looking a week ahead; the zero time if it
// never is.
func (s *ruleSchedule) next(t time.Time) time.Time {
	if s.at(t) {
		return t
	}
	lt := t.In(s.loc)
	for i := 0; i <= 8; i++ {
		y, mo, d := lt.Date()
		c := time.Date(y, mo, d+i, s.from/60, s.from%60, 0, 0, s.loc)
		if c.After(t) && s.at(c) {
			return c
		}
	}
	return time.Time{}
}

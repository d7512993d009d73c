package dispatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// ErrInvalidNotification is matched by every *NotificationError.
var ErrInvalidNotification = errors.New("dispatch: invalid notification")

// Limits on a Notification. They keep a notification small enough for an
// SMS gateway or push payload and its JSON well under the 64 KiB that
// WebhookHandler accepts.
const (
	MaxSubjectBytes  = 512     // Notification.Subject
	MaxDataBytes     = 8 << 10 // keys plus values of Notification.Data
	MaxNotifyIDBytes = 128     // Notification.ID, which travels in a header
	MaxRefBytes      = 256     // To, WorkOrder and Case
)

// NotificationKind says why a notification is sent.
type NotificationKind uint8

// Kinds of notification. The zero value is not a kind, so a notification
// whose kind was never set fails Validate.
const (
	NotifyOffer       NotificationKind = iota + 1 // new work offered to a body or responder
	NotifyChaseUp                                 // 催办: a chase-up on work that is running late
	NotifySupervision                             // 督办: a supervision notice from a superior body
	NotifyEscalation                              // work escalated to a supervisor or higher tier
	NotifyReminder                                // a reminder ahead of a deadline
)

var kindNames = [...]string{
	NotifyOffer:       "offer",
	NotifyChaseUp:     "chase-up",
	NotifySupervision: "supervision",
	NotifyEscalation:  "escalation",
	NotifyReminder:    "reminder",
}

func (k NotificationKind) valid() bool { return k >= NotifyOffer && k <= NotifyReminder }

// String returns the kind's wire name, such as "offer" or "chase-up".
func (k NotificationKind) String() string {
	if !k.valid() {
		return fmt.Sprintf("NotificationKind(%d)", uint8(k))
	}
	return kindNames[k]
}

// MarshalText encodes the kind by its wire name; an unknown kind is an
// error rather than a number a receiver could not interpret.
func (k NotificationKind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, &NotificationError{Field: "kind", Reason: fmt.Sprintf("unknown kind %d", uint8(k))}
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes a wire name produced by MarshalText.
func (k *NotificationKind) UnmarshalText(b []byte) error {
	for i, name := range kindNames {
		if name != "" && name == string(b) {
			*k = NotificationKind(i)
			return nil
		}
	}
	return &NotificationError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q", b)}
}

// Notification offers or chases work: a new work order for a street team,
// a chase-up (催办) or supervision (督办) notice, an escalation. Channels
// carry it as is, so it names things by ID and holds no personal data.
type Notification struct {
	// ID is unique per notification and stays the same across retries, so
	// that receivers can drop duplicates (delivery is at least once).
	ID   string           `json:"id"`
	Kind NotificationKind `json:"kind"`
	// To is the body ID or responder ID the notification is for.
	To        string `json:"to"`
	WorkOrder string `json:"work_order,omitzero"`
	Case      string `json:"case,omitzero"`
	// Subject is a short line for the recipient's screen, at most
	// MaxSubjectBytes. It must not carry personal data: it passes through
	// third-party gateways.
	Subject string `json:"subject,omitzero"`
	// Deadline is when the work is due, if it has one.
	Deadline time.Time `json:"deadline,omitzero"`
	// Data carries extra channel-specific values, at most MaxDataBytes.
	Data map[string]string `json:"data,omitzero"`
	// Time is when the notification was issued.
	Time time.Time `json:"time,omitzero"`
}

// NotificationError reports why a notification is malformed.
type NotificationError struct {
	ID     string // the notification's ID, possibly empty
	Field  string // "id", "kind", "to", "subject", "data", …
	Reason string
}

// Error names the notification, the field and the reason.
func (e *NotificationError) Error() string {
	return fmt.Sprintf("%v %q: %s: %s", ErrInvalidNotification, e.ID, e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidNotification) match.
func (e *NotificationError) Unwrap() error { return ErrInvalidNotification }

// Validate checks that the notification can be sent: an ID that is safe in
// an HTTP header, a recipient, a known kind and sizes within the limits.
func (n Notification) Validate() error {
	bad := func(field, reason string) error {
		return &NotificationError{ID: n.ID, Field: field, Reason: reason}
	}
	switch {
	case n.ID == "":
		return bad("id", "empty")
	case len(n.ID) > MaxNotifyIDBytes:
		return bad("id", fmt.Sprintf("longer than %d bytes", MaxNotifyIDBytes))
	case !headerSafe(n.ID):
		return bad("id", "must be printable ASCII without spaces")
	case n.To == "":
		return bad("to", "empty")
	case len(n.To) > MaxRefBytes:
		return bad("to", fmt.Sprintf("longer than %d bytes", MaxRefBytes))
	case !n.Kind.valid():
		return bad("kind", fmt.Sprintf("unknown kind %d", uint8(n.Kind)))
	case len(n.WorkOrder) > MaxRefBytes:
		return bad("work_order", fmt.Sprintf("longer than %d bytes", MaxRefBytes))
	case len(n.Case) > MaxRefBytes:
		return bad("case", fmt.Sprintf("longer than %d bytes", MaxRefBytes))
	case len(n.Subject) > MaxSubjectBytes:
		return bad("subject", fmt.Sprintf("%d bytes, more than %d", len(n.Subject), MaxSubjectBytes))
	}
	size := 0
	for k, v := range n.Data {
		size += len(k) + len(v)
	}
	if size > MaxDataBytes {
		return bad("data", fmt.Sprintf("%d bytes, more than %d", size, MaxDataBytes))
	}
	return nil
}

// headerSafe reports whether s can travel unchanged in an HTTP header.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// clone returns n with its own Data map, so that a recorded notification
// does not change when the caller reuses the map.
func (n Notification) clone() Notification {
	n.Data = maps.Clone(n.Data)
	return n
}

// Notifier delivers notifications over a channel: an app push gateway,
// SMS, a government messaging platform, a webhook. Notify returning nil
// means the channel accepted the notification for delivery, not that a
// person has read it. Callers may retry with the same ID after an error,
// so implementations must treat a repeated ID as already delivered.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// MemoryNotifier is a Notifier that records what it accepts, for tests
// and demos. It is safe for concurrent use and its zero value is ready.
// Like any receiver it is idempotent: a notification whose ID it has
// already accepted is accepted again but recorded once.
type MemoryNotifier struct {
	// Fail, if set, is called before a notification is accepted; a non-nil
	// result is returned from Notify and nothing is recorded, as in a
	// channel outage. Set it before the notifier is shared.
	Fail func(Notification) error

	mu   sync.Mutex
	sent []Notification
	seen map[string]bool
}

var _ Notifier = (*MemoryNotifier)(nil)

// Notify validates n and records it unless Fail refuses it or its ID was
// already accepted.
func (m *MemoryNotifier) Notify(ctx context.Context, n Notification) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Fail runs outside the lock so that it may inspect the notifier.
	if m.Fail != nil {
		if err := m.Fail(n); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[n.ID] {
		return nil
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	m.seen[n.ID] = true
	m.sent = append(m.sent, n.clone())
	return nil
}

// Sent returns every accepted notification, in the order accepted.
func (m *MemoryNotifier) Sent() []Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Notification, len(m.sent))
	for i, n := range m.sent {
		out[i] = n.clone()
	}
	return out
}

// For returns the accepted notifications addressed to to, in order.
func (m *MemoryNotifier) For(to string) []Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Notification
	for _, n := range m.sent {
		if n.To == to {
			out = append(out, n.clone())
		}
	}
	return out
}

// Reset forgets every notification, including the IDs seen, so that the
// same notifications can be sent again.
func (m *MemoryNotifier) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent, m.seen = nil, nil
}

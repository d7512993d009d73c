package incident

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/internal/hashchain"
)

// Entry is one step of a case's timeline: who did what, when, from which
// status to which, with a note and attachments. Entries form a hash chain
// per incident: each carries the hash of the one before, so VerifyTimeline
// detects any edit, removal or reordering.
type Entry struct {
	Incident uuid.UUID
	Seq      int // 1 for the report
	Time     time.Time
	ActorID  string // empty for an anonymous report
	Action   string // "report", "register", "dispatch", "merge", "overdue", …
	From, To Status // equal when the status did not change
	Note     string
	Evidence []Evidence
	// Late records that the step ended a timed phase after its deadline:
	// indicators such as on-time registration are counted from it.
	Late     bool
	PrevHash []byte
	Hash     []byte
}

// timelineVersion versions the hashed encoding of an Entry.
const timelineVersion = 1

// hash computes e's hash from its fields and PrevHash.
func (e *Entry) hash() []byte {
	h := hashchain.New(timelineVersion, e.PrevHash)
	h.Bytes(e.Incident[:])
	h.Int(int64(e.Seq))
	h.Time(e.Time)
	h.String(e.ActorID)
	h.String(e.Action)
	h.Int(int64(e.From))
	h.Int(int64(e.To))
	h.String(e.Note)
	h.Bool(e.Late)
	h.Int(int64(len(e.Evidence)))
	for _, ev := range e.Evidence {
		h.String(ev.URI)
		h.String(ev.SHA256)
		h.String(ev.MediaType)
	}
	return h.Sum()
}

// Link makes e follow prev (nil for the first entry) in a timeline: it sets
// Seq, PrevHash and Hash, and truncates the time to the precision every
// store keeps. The Service links its own entries; Link is for importing
// timelines from other systems and for store tests.
func Link(prev *Entry, e Entry) Entry {
	e.Time = hashchain.Truncate(e.Time)
	e.Evidence = slices.Clone(e.Evidence)
	if prev == nil {
		e.Seq, e.PrevHash = 1, hashchain.Genesis
	} else {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Hash = e.hash()
	return e
}

// clone returns a copy sharing no slices with e.
func (e Entry) clone() Entry {
	e.Evidence = slices.Clone(e.Evidence)
	e.PrevHash = slices.Clone(e.PrevHash)
	e.Hash = slices.Clone(e.Hash)
	return e
}

// TamperError says where a timeline stopped verifying.
type TamperError struct {
	Incident uuid.UUID
	Seq      int
	Reason   string
}

// Error describes the problem.
func (e *TamperError) Error() string {
	return fmt.Sprintf("incident %s: timeline entry %d: %s", e.Incident, e.Seq, e.Reason)
}

// Unwrap lets errors.Is(err, ErrTampered) match.
func (e *TamperError) Unwrap() error { return ErrTampered }

// VerifyTimeline checks that entries form an unbroken chain for one
// incident: sequence numbers 1, 2, 3…, each linked to the hash of the one
// before, each hash matching its fields.
func VerifyTimeline(entries []Entry) error {
	prev := hashchain.Genesis
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Incident != entries[0].Incident:
			return &TamperError{entries[0].Incident, e.Seq, "belongs to another incident"}
		case e.Seq != i+1:
			return &TamperError{e.Incident, e.Seq, fmt.Sprintf("out of sequence at position %d", i+1)}
		case !bytes.Equal(e.PrevHash, prev):
			return &TamperError{e.Incident, e.Seq, "does not link to the entry before"}
		case !bytes.Equal(e.Hash, e.hash()):
			return &TamperError{e.Incident, e.Seq, "contents do not match its hash"}
		}
		prev = e.Hash
	}
	return nil
}

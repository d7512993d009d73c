package codes

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/govkit/govkit/internal/hashchain"
)

// EntryType is what a ledger entry does.
type EntryType uint8

// Entry types. A ledger is append-only: an appeal does not change the
// entry it contests, it is a later entry that puts it on hold, and the
// decision is another that either lets it stand or voids it.
const (
	Deduction     EntryType = iota + 1 // points off, for a violation
	Addition                           // points back, e.g. for volunteering (S13)
	Appeal                             // the subject contests a deduction: it is on hold
	AppealUpheld                       // the appeal is refused: the deduction stands
	AppealGranted                      // the appeal succeeds: the deduction is void
)

var entryTypeNames = [...]string{Deduction: "deduction", Addition: "addition", Appeal: "appeal",
	AppealUpheld: "appeal-upheld", AppealGranted: "appeal-granted"}

// String returns the type's name, e.g. "deduction".
func (t EntryType) String() string {
	if t < Deduction || t > AppealGranted {
		return fmt.Sprintf("EntryType(%d)", uint8(t))
	}
	return entryTypeNames[t]
}

// Evidence points to what a ledger entry rests on (an inspection record, a
// photo, an incident) and fixes it by hash, so that the evidence cannot be
// swapped later without the ledger showing it.
type Evidence struct {
	Ref    string   // where it is, e.g. "incident:0191…" or an object-store URI
	SHA256 [32]byte // its hash
}

// IsZero reports whether no evidence is given.
func (e Evidence) IsZero() bool { return e.Ref == "" && e.SHA256 == [32]byte{} }

// Entry is one line of a subject's points ledger. Entries are chained by
// hash, so that editing, dropping or reordering one shows.
type Entry struct {
	Subject  string
	Seq      int64 // 1, 2, … in the subject's ledger
	Type     EntryType
	Points   int64  // the points deducted or added (> 0); 0 for appeals and decisions
	Rule     string // the rule broken or rewarded, e.g. "rental-noise-3"
	Evidence Evidence
	Target   int64  // for appeals and decisions: the Seq of the deduction concerned
	Recorder string // the actor who recorded it
	Note     string
	// Key, if set, makes the entry idempotent: a second request with the
	// same key on the same ledger is absorbed (a client that retries after
	// a timeout does not deduct twice).
	Key  string
	At   time.Time // UTC, microseconds
	Prev []byte    // the hash of the entry before (hashchain.Genesis for the first)
	Hash []byte    // this entry's hash, covering Prev
}

// hashVersion is the format of the ledger's hash chain.
const hashVersion = 1

// ComputeHash returns the hash of e given its Prev.
func (e *Entry) ComputeHash() []byte {
	h := hashchain.New(hashVersion, e.Prev)
	h.String(e.Subject)
	h.Int(e.Seq)
	h.Uint(uint64(e.Type))
	h.Int(e.Points)
	h.String(e.Rule)
	h.String(e.Evidence.Ref)
	h.Bytes(e.Evidence.SHA256[:])
	h.Int(e.Target)
	h.String(e.Recorder)
	h.String(e.Note)
	h.String(e.Key)
	h.Time(e.At)
	return h.Sum()
}

// VerifyLedger checks that entries form an unbroken chain from the
// genesis, with consecutive sequence numbers; it returns an error matching
// ErrConflict naming the first entry that does not.
func VerifyLedger(entries []Entry) error {
	prev := hashchain.Genesis
	for i := range entries {
		e := &entries[i]
		if e.Seq != int64(i+1) || !bytes.Equal(e.Prev, prev) || !bytes.Equal(e.ComputeHash(), e.Hash) {
			return fmt.Errorf("%w: ledger of %s broken at entry %d", ErrConflict, e.Subject, e.Seq)
		}
		prev = e.Hash
	}
	return nil
}

// Thresholds turn a ledger into a colour: the score starts at Start,
// deductions take points off and additions put them back, in ledger order,
// never above Max; below Yellow the subject is yellow, below Red it is red.
type Thresholds struct {
	Start  int64
	Max    int64
	Yellow int64
	Red    int64
}

// DefaultThresholds returns 100 points to start and at most, yellow below
// 80, red below 60.
func DefaultThresholds() Thresholds { return Thresholds{Start: 100, Max: 100, Yellow: 80, Red: 60} }

// Validate checks Red ≤ Yellow ≤ Start ≤ Max.
func (t Thresholds) Validate() error {
	if !(t.Red <= t.Yellow && t.Yellow <= t.Start && t.Start <= t.Max) {
		return invalid("thresholds", "want red ≤ yellow ≤ start ≤ max, have %d, %d, %d, %d", t.Red, t.Yellow, t.Start, t.Max)
	}
	return nil
}

// Colour returns the colour of a score.
func (t Thresholds) Colour(score int64) Colour {
	switch {
	case score < t.Red:
		return Red
	case score < t.Yellow:
		return Yellow
	}
	return Green
}

// Standing is what a ledger adds up to.
type Standing struct {
	Score   int64
	Colour  Colour
	OnHold  int64 // points of deductions under appeal, not counted
	Appeals int   // appeals not yet decided
	Entries int64 // the ledger's length
}

// Standing computes the standing a ledger gives: a pure function of the
// entries, so that anyone holding the ledger can check a colour.
func (t Thresholds) Standing(entries []Entry) Standing {
	held := map[int64]bool{}
	void := map[int64]bool{}
	for i := range entries {
		e := &entries[i]
		switch e.Type {
		case Appeal:
			held[e.Target] = true
		case AppealUpheld:
			delete(held, e.Target)
		case AppealGranted:
			delete(held, e.Target)
			void[e.Target] = true
		}
	}
	s := Standing{Score: t.Start, Appeals: len(held), Entries: int64(len(entries))}
	for i := range entries {
		e := &entries[i]
		switch {
		case void[e.Seq]:
		case held[e.Seq]:
			s.OnHold += e.Points
		case e.Type == Deduction:
			s.Score -= e.Points
		case e.Type == Addition:
			// Additions never bank points above Max.
			s.Score = min(s.Score+e.Points, t.Max)
		}
	}
	s.Colour = t.Colour(s.Score)
	return s
}

// checkAppend checks that e may follow entries: a positive amount for
// deductions and additions, evidence for deductions, and for appeals and
// decisions a deduction in the right state.
func checkAppend(entries []Entry, e *Entry) error {
	switch e.Type {
	case Deduction, Addition:
		if e.Points <= 0 || e.Points > 1_000_000 {
			return invalid("points", "%d, want 1–1000000", e.Points)
		}
		if err := idField("rule", e.Rule, true); err != nil {
			return err
		}
		if e.Type == Deduction && (e.Evidence.Ref == "" || e.Evidence.SHA256 == [32]byte{}) {
			return invalid("evidence", "a deduction needs an evidence reference and its hash")
		}
	case Appeal, AppealUpheld, AppealGranted:
		if e.Target < 1 || e.Target > int64(len(entries)) {
			return &InputError{Field: "entry", Reason: fmt.Sprintf("no entry %d", e.Target), Err: ErrNotFound}
		}
		if entries[e.Target-1].Type != Deduction {
			return invalid("entry", "entry %d is a %s: only deductions are appealed", e.Target, entries[e.Target-1].Type)
		}
		open, decided := false, false
		for i := range entries {
			if entries[i].Target != e.Target {
				continue
			}
			switch entries[i].Type {
			case Appeal:
				open = true
			case AppealUpheld, AppealGranted:
				open, decided = false, true
			}
		}
		switch {
		case e.Type == Appeal && (open || decided):
			return invalid("entry", "deduction %d is already under appeal or decided", e.Target)
		case e.Type != Appeal && !open:
			return invalid("entry", "deduction %d has no open appeal", e.Target)
		}
	default:
		return invalid("type", "%v", e.Type)
	}
	if err := idField("key", e.Key, false); err != nil {
		return err
	}
	if len(e.Evidence.Ref) > 512 {
		return invalid("evidence", "reference longer than 512 bytes")
	}
	return textField("note", e.Note, false)
}

// ParseEvidenceHash reads a hex SHA-256, as evidence stores print them.
func ParseEvidenceHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, invalid("evidence hash", "%d hex digits, want 64", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, &InputError{Field: "evidence hash", Reason: "not hex", Err: err}
	}
	return h, nil
}

package postgres

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/govkit/govkit/bus"
)

// SQLSTATEs the domain stores map to their packages' errors.
const (
	sqlstateUniqueViolation     = "23505"
	sqlstateForeignKeyViolation = "23503"
	sqlstateBadText             = "22021" // character_not_in_repertoire
	sqlstateUntranslatable      = "22P05" // untranslatable_character
	sqlstateProgramLimit        = "54000" // a row too large for an index

	// Raised by govkit_reject (migration outbox/0002) when a write's own
	// check fails: the row was not at the version the change expects (the
	// detail holds the version found, empty for no row), or another case
	// holds a key the change claims.
	sqlstateRejectVersion = "GK001"
	sqlstateRejectKeys    = "GK002"
)

// rejectedVersion reports whether err is a failed version check, and the
// version the row was at ("" when there was no row).
func rejectedVersion(err error) (have string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateRejectVersion {
		return pgErr.Detail, true
	}
	return "", false
}

// pgCode returns err's SQLSTATE, or "" when it is not a PostgreSQL error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// storable reports whether PostgreSQL can store s as text: valid UTF-8
// without NUL. A key that cannot be stored is simply not found.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// outboxMessages converts a change's events for WriteOutbox, rejecting,
// through reject, an ID the outbox would not give back unchanged (not a
// canonical, non-zero UUID) or an event without a subject. With
// skipUnnamed, events without an ID are left out rather than refused.
func outboxMessages(msgs []bus.Message, skipUnnamed bool, reject func(index int, id, reason string) error) ([]OutboxMessage, []uuid.UUID, error) {
	out := make([]OutboxMessage, 0, len(msgs))
	ids := make([]uuid.UUID, 0, len(msgs))
	for i, m := range msgs {
		if skipUnnamed && m.ID == "" {
			continue
		}
		id, err := uuid.Parse(m.ID)
		switch {
		case err != nil:
			return nil, nil, reject(i, m.ID, "not a UUID")
		case id == uuid.Nil:
			return nil, nil, reject(i, m.ID, "the zero UUID")
		case id.String() != m.ID:
			return nil, nil, reject(i, m.ID, "not in canonical form "+id.String())
		case strings.TrimSpace(m.Subject) == "":
			return nil, nil, reject(i, m.ID, "empty subject")
		}
		out = append(out, OutboxMessage{ID: id, Subject: m.Subject, Key: m.Key, Headers: m.Headers, Data: m.Data, CreatedAt: m.Time})
		ids = append(ids, id)
	}
	return out, ids, nil
}

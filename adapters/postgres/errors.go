package postgres

import (
	"errors"
	"fmt"
)

// ErrInvalidDSN is matched by every error about a connection string that
// cannot be parsed. See [DSNError].
var ErrInvalidDSN = errors.New("postgres: invalid DSN")

// ErrInvalidSchema is matched by the error [Open] returns when the name given
// to [WithSchema] is not an acceptable schema name.
var ErrInvalidSchema = errors.New("postgres: invalid schema name")

// ErrInvalidMigration is matched by every error about a migration list that
// [DB.Migrate] or [LoadMigrations] rejects before touching the database. See
// [MigrationListError].
var ErrInvalidMigration = errors.New("postgres: invalid migration list")

// ErrMigrationChanged is matched by the error [DB.Migrate] returns when the SQL
// of an already-applied migration no longer has the checksum recorded when it
// was applied. See [MigrationChangedError].
var ErrMigrationChanged = errors.New("postgres: applied migration changed")

// ErrMigrationFailed is matched by the error [DB.Migrate] returns when a
// migration's SQL fails. See [MigrationError].
var ErrMigrationFailed = errors.New("postgres: migration failed")

// ErrRetriesExhausted is matched by the error [DB.InTx] returns when every
// allowed attempt ended in a serialization failure or a deadlock. See
// [RetryError].
var ErrRetriesExhausted = errors.New("postgres: transaction retries exhausted")

// ErrInvalidOutboxMessage is matched by every error about an [OutboxMessage]
// that [WriteOutbox] rejects. See [OutboxMessageError].
var ErrInvalidOutboxMessage = errors.New("postgres: invalid outbox message")

// ErrInvalidArgument is matched by errors about an argument that is out of
// range, such as a non-positive limit given to [FetchUnpublished] or a nil
// transaction.
var ErrInvalidArgument = errors.New("postgres: invalid argument")

// DSNError reports a connection string that could not be parsed. The DSN
// itself is not repeated in the message because it may hold a password; Err
// is the parser's error, in which pgx redacts the password.
type DSNError struct {
	Err error
}

// Error implements the error interface.
func (e *DSNError) Error() string {
	return "postgres: invalid DSN: " + e.Err.Error()
}

// Unwrap lets errors.Is match both [ErrInvalidDSN] and the parser's error.
func (e *DSNError) Unwrap() []error { return []error{ErrInvalidDSN, e.Err} }

// MigrationListError reports why a migration list was rejected. Index is the
// position in the list of the offending migration, or -1 when the problem is
// not about one migration (for example an empty component name). For errors
// from [LoadMigrations], Component is the directory read.
type MigrationListError struct {
	Component string
	Index     int
	Version   int
	Reason    string
}

// Error implements the error interface.
func (e *MigrationListError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("postgres: invalid migration list for component %q: %s", e.Component, e.Reason)
	}
	return fmt.Sprintf("postgres: invalid migration list for component %q: migration[%d] (version %d): %s",
		e.Component, e.Index, e.Version, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidMigration) match.
func (e *MigrationListError) Unwrap() error { return ErrInvalidMigration }

// MigrationChangedError reports an applied migration whose SQL changed since
// it was applied. Applied migrations are immutable: add a new version instead.
type MigrationChangedError struct {
	Component       string
	Version         int
	Name            string
	AppliedChecksum string // recorded in govkit_schema_migrations
	Checksum        string // of the SQL given now
}

// Error implements the error interface.
func (e *MigrationChangedError) Error() string {
	return fmt.Sprintf("postgres: migration %s/%04d_%s was changed after it was applied (checksum %s, applied %s)",
		e.Component, e.Version, e.Name, e.Checksum, e.AppliedChecksum)
}

// Unwrap lets errors.Is(err, ErrMigrationChanged) match.
func (e *MigrationChangedError) Unwrap() error { return ErrMigrationChanged }

// MigrationError reports a migration whose SQL (or bookkeeping) failed. The
// migration's transaction was rolled back, so none of its effects remain and
// it is not recorded as applied; migrations before it stay applied.
type MigrationError struct {
	Component string
	Version   int
	Name      string
	Err       error
}

// Error implements the error interface.
func (e *MigrationError) Error() string {
	return fmt.Sprintf("postgres: migration %s/%04d_%s failed: %v", e.Component, e.Version, e.Name, e.Err)
}

// Unwrap lets errors.Is match both [ErrMigrationFailed] and the cause (for
// example a *pgconn.PgError).
func (e *MigrationError) Unwrap() []error { return []error{ErrMigrationFailed, e.Err} }

// RetryError reports a transaction that still failed with a retryable error
// (serialization failure or deadlock) after Attempts attempts. Err is the
// last attempt's error.
type RetryError struct {
	Attempts int
	Err      error
}

// Error implements the error interface.
func (e *RetryError) Error() string {
	return fmt.Sprintf("postgres: transaction failed after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap lets errors.Is match both [ErrRetriesExhausted] and the last error.
func (e *RetryError) Unwrap() []error { return []error{ErrRetriesExhausted, e.Err} }

// OutboxMessageError reports which message given to [WriteOutbox] was
// rejected and why. Nothing was written.
type OutboxMessageError struct {
	Index  int
	Reason string
}

// Error implements the error interface.
func (e *OutboxMessageError) Error() string {
	return fmt.Sprintf("postgres: invalid outbox message [%d]: %s", e.Index, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidOutboxMessage) match.
func (e *OutboxMessageError) Unwrap() error { return ErrInvalidOutboxMessage }

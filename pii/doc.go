// Package pii holds citizens' personal data — names, phone numbers,
// resident identity numbers, addresses — in a type that masks itself
// everywhere, so that logs, events, error messages and debug prints never
// show it.
//
// # Why
//
// Governance software is full of personal data: the citizen who reported a
// blocked drain left a name and a phone number for the call-back. Plain
// strings leak: into a log line, an event on the bus, an error wrapped with
// %v, a struct dumped while debugging. China's Personal Information
// Protection Law asks for the least exposure needed, and a leak in a log is
// still a leak. So personal data is a Data, not a string, and the safe thing
// is what happens by default.
//
// # Building and masking
//
// NewPhone, NewIDNumber, NewName and NewAddress validate and normalise a
// value ("+86 138-1234-5678" becomes 13812345678; an ID number's check
// character is verified) and reject bad input with an *Error that says why
// without repeating the value. A Data then shows only its masked form:
//
//	phone      13812345678          138****5678
//	ID number  11010519491231002X   110***********002X  (hides the birth date)
//	name       张三 / 欧阳娜娜      张* / 欧***         (a one-rune name is *)
//	address    重庆市九龙坡区石桥铺…  重庆市九龙坡****     (half of a shorter one)
//
// It does so on every output path: String, GoString, Format for every fmt
// verb, slog's LogValuer, MarshalJSON and MarshalText. Where fmt cannot call
// a method — a Data in an unexported field of a struct printed with %+v —
// it prints the fields by reflection, and finds only a pointer: the value
// lives behind one for exactly this reason. Gob, JSON decoding and
// database/sql refuse Data with an error matching ErrNotSerializable: a
// masked value read back, or stored, would be corrupt data.
//
// # Revealing
//
// Reveal returns the raw value only if an access.Authorizer allows the
// actor in the context ActionReveal ("reveal-personal-data") on the
// resource the data belongs to: the incident, in its grid. So the policy's
// jurisdiction scoping applies — an officer sees the phone numbers of
// reports in her street, not the next one's — and the authorizer's audit
// trail records every reveal.
//
// # Storing
//
// A Sealer encrypts Data for storage with AES-256-GCM (Seal, Open), binding
// the kind to the ciphertext so a sealed phone number never opens as a
// name. Its Index is a blind index, HMAC-SHA256 of the kind and value under
// a second key, stored beside the ciphertext to find "all reports from this
// phone number" without decrypting. A blind index is deterministic and so
// links records that share a value; keep its key as secret as the
// encryption key.
package pii

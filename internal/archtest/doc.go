// Package archtest holds a test that enforces govkit's import rules (see
// ARCHITECTURE.md): domain packages never import each other, the shared
// vocabulary never imports a domain package, the core module never imports
// an adapter, and the core module's third-party imports stay on the
// approved list. It has no API.
package archtest

// Package audit provides the audit trail of admin changes (SPEC section 9): the Entry type,
// the storage contract every store backend implements, and the Recorder the write side uses.
package audit

package gateway

import (
	"log/slog"

	"github.com/ssogate/ssogate/internal/audit"
)

// newAuditRecorder records into the store when it keeps an audit log (both backends do; a
// test's store may not), with SPEC section 9's retention.
func newAuditRecorder(store Backend, logger *slog.Logger) *audit.Recorder {
	as, _ := store.(audit.Store)
	return audit.NewRecorder(as, audit.DefaultRetention, logger)
}

package tokenapi

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// accessJSON writes the access line straight to the log's writer, encoded by hand in exactly
// the shape slog's JSON handler gives it (time in milliseconds, level, msg, then the fields in
// order). slog costs about a third of a directory answer's CPU for this line: seven attributes
// overflow the record's inline array, and the float latency goes through encoding/json's
// reflection (docs/benchmarks.md). The line is appended to a pooled buffer and handed to the
// writer in one Write, as slog does, so the buffered sink (internal/logsink) keeps lines whole.
type accessJSON struct {
	w       io.Writer
	enabled func() bool // the logger's level allows info
	bufs    sync.Pool
}

func newAccessJSON(w io.Writer, logger *slog.Logger) *accessJSON {
	a := &accessJSON{w: w, enabled: func() bool { return logger.Enabled(context.Background(), slog.LevelInfo) }}
	a.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	return a
}

// line is what one access line says.
type line struct {
	now       time.Time
	requestID string
	ip        []byte // textual address, no allocation (netip.Addr.AppendTo)
	grant     string
	cluster   string
	code      int
	ssoStatus int
	elapsed   time.Duration
}

func (a *accessJSON) write(l *line) {
	if !a.enabled() {
		return
	}
	bp := a.bufs.Get().(*[]byte)
	b := appendAccessJSON((*bp)[:0], l)
	a.w.Write(b)
	*bp = b
	a.bufs.Put(bp)
}

// appendAccessJSON appends the line as slog.NewJSONHandler would write
// LogAttrs(ctx, LevelInfo, "access", request_id, ip, grant, cluster, code, sso_status, latency_ms).
func appendAccessJSON(b []byte, l *line) []byte {
	b = append(b, `{"time":"`...)
	b = l.now.AppendFormat(b, time.RFC3339Nano) // slog's JSON time format
	b = append(b, `","level":"INFO","msg":"access","request_id":`...)
	b = appendJSONString(b, l.requestID)
	b = append(b, `,"ip":"`...)
	b = append(b, l.ip...) // digits, dots, colons and hex only
	b = append(b, `","grant":`...)
	b = appendJSONString(b, l.grant)
	b = append(b, `,"cluster":`...)
	b = appendJSONString(b, l.cluster)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(l.code), 10)
	b = append(b, `,"sso_status":`...)
	b = strconv.AppendInt(b, int64(l.ssoStatus), 10)
	b = append(b, `,"latency_ms":`...)
	// float64(µs)/1000 in encoding/json's format: 'f' for the magnitudes a latency has.
	b = strconv.AppendFloat(b, float64(l.elapsed.Microseconds())/1000, 'f', -1, 64)
	return append(b, "}\n"...)
}

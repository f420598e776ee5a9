package tokenapi

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// The hand-encoded access line must be byte for byte what slog's JSON handler writes for the
// same record: operators' log pipelines parse it.
func TestAccessJSONMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 5, 9, 120_000_000, time.UTC)
	tests := []struct {
		name string
		l    line
	}{
		{"login", line{now: at, requestID: "0123456789abcdef", ip: []byte("127.0.0.1"), grant: "password",
			cluster: "STUB", code: 200, ssoStatus: 200, elapsed: 1234 * time.Microsecond}},
		{"no cluster, zero latency", line{now: at.Add(7 * time.Millisecond), requestID: "r-1", ip: []byte("::1"),
			grant: "", cluster: "", code: 1004, elapsed: 0}},
		{"whole milliseconds and seconds", line{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), requestID: "x",
			ip: []byte("10.0.0.1"), grant: "other", cluster: "A", code: 1002, ssoStatus: 400, elapsed: 2 * time.Second}},
		{"local zone", line{now: time.Date(2026, 6, 1, 12, 0, 0, 999_999_999, time.FixedZone("CST", 8*3600)),
			requestID: "a:b.c_d", ip: []byte("192.168.1.20"), grant: "refresh_token", cluster: "C1", code: 1000,
			elapsed: 999 * time.Nanosecond}},
		{"cluster needing escapes", line{now: at, requestID: "q", ip: []byte("127.0.0.1"), grant: "password",
			cluster: "a\"b\\c\n\td\x01é\u2028\xff", code: 200, ssoStatus: 200, elapsed: 15 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			slog.New(slog.NewJSONHandler(&want, nil)).Handler().Handle(context.Background(), recordOf(&tt.l))
			got := appendAccessJSON(nil, &tt.l)
			if string(got) != want.String() {
				t.Errorf("access line\n got %s\nwant %s", got, want.String())
			}
		})
	}
}

func recordOf(l *line) slog.Record {
	r := slog.NewRecord(l.now, slog.LevelInfo, "access", 0)
	r.AddAttrs(slog.String("request_id", l.requestID), slog.String("ip", string(l.ip)),
		slog.String("grant", l.grant), slog.String("cluster", l.cluster),
		slog.Int("code", l.code), slog.Int("sso_status", l.ssoStatus),
		slog.Float64("latency_ms", float64(l.elapsed.Microseconds())/1000))
	return r
}

// The level still governs the line: at warn it is not written.
func TestAccessJSONFollowsLevel(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	a := newAccessJSON(&buf, logger)
	l := line{now: time.Now(), requestID: "r", ip: []byte("127.0.0.1"), code: 1004}
	a.write(&l)
	if buf.Len() == 0 {
		t.Fatal("no access line at info")
	}
	buf.Reset()
	level.Set(slog.LevelWarn)
	a.write(&l)
	if buf.Len() != 0 {
		t.Fatalf("access line written at warn: %s", buf.String())
	}
}

func BenchmarkAccessLine(b *testing.B) {
	l := line{now: time.Now(), requestID: "0123456789abcdef", ip: []byte("127.0.0.1"), grant: "password",
		cluster: "STUB", code: 200, ssoStatus: 200, elapsed: 1234 * time.Microsecond}
	b.Run("hand", func(b *testing.B) {
		var discard bytes.Buffer
		a := newAccessJSON(&discard, slog.New(slog.NewJSONHandler(&discard, nil)))
		b.ReportAllocs()
		for b.Loop() {
			discard.Reset()
			a.write(&l)
		}
	})
	b.Run("slog", func(b *testing.B) {
		var discard bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&discard, nil))
		b.ReportAllocs()
		for b.Loop() {
			discard.Reset()
			logger.LogAttrs(context.Background(), slog.LevelInfo, "access",
				slog.String("request_id", l.requestID), slog.String("ip", string(l.ip)),
				slog.String("grant", l.grant), slog.String("cluster", l.cluster),
				slog.Int("code", l.code), slog.Int("sso_status", l.ssoStatus),
				slog.Float64("latency_ms", float64(l.elapsed.Microseconds())/1000))
		}
	})
}

package redisstore

import (
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/store/conformance"
)

// The shared suite against each Redis topology (STYLE.md, point 2). Every subtest gets its
// own key prefix, so a backend is fresh and empty. The suite runs with a store timeout of 5 s
// rather than the 1 s default: it pins behaviour, not latency, and this machine also runs
// load generators; the deadline itself is pinned by TestStalledRedis.

const suiteTimeout = 5 * time.Second

// suiteSettle shortens an applying reconcile's wait for bulk binds that read its flag unset
// (reconcile.go); the suite's concurrent writes all happen after the flag is raised.
const suiteSettle = 50 * time.Millisecond

// suiteFlushDelay and suiteConnections are the shipped store.redis_flush_delay and
// store.redis_connections: the contract holds with the writer as it runs in production.
var (
	suiteFlushDelay  = config.Default().Store.RedisFlushDelay
	suiteConnections = config.Default().Store.RedisConnections
)

func TestConformanceStandalone(t *testing.T) {
	addr := machineRedis()
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		return openStore(t, Options{Addrs: []string{addr}, Timeout: suiteTimeout, ReconcileSettle: suiteSettle, FlushDelay: suiteFlushDelay, Connections: suiteConnections})
	})
}

func TestConformanceCluster(t *testing.T) {
	addrs := startCluster(t)
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		s := openStore(t, Options{Addrs: addrs, Timeout: suiteTimeout, ReconcileSettle: suiteSettle, FlushDelay: suiteFlushDelay, Connections: suiteConnections})
		if got := s.client.Mode(); got != "cluster" {
			t.Fatalf("client mode = %s, want cluster", got)
		}
		return s
	})
}

func TestConformanceSentinel(t *testing.T) {
	sentinel, _ := startSentinel(t)
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		s := openStore(t, Options{Addrs: []string{sentinel}, MasterName: "ssogate-test", Timeout: suiteTimeout, ReconcileSettle: suiteSettle, FlushDelay: suiteFlushDelay, Connections: suiteConnections})
		if got := s.client.Mode(); got != "sentinel" {
			t.Fatalf("client mode = %s, want sentinel", got)
		}
		return s
	})
}

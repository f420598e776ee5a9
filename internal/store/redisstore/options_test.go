package redisstore

import "testing"

// store.redis_connections reaches rueidis as the connection count it names.
func TestPipelineMultiplex(t *testing.T) {
	for _, tc := range []struct{ connections, want int }{
		{0, 0}, // rueidis chooses
		{1, -1},
		{2, 1},
		{4, 2},
		{256, 8},
	} {
		if got := pipelineMultiplex(tc.connections); got != tc.want {
			t.Errorf("pipelineMultiplex(%d) = %d, want %d", tc.connections, got, tc.want)
		}
	}
	s := openStore(t, Options{Addrs: []string{machineRedis()}, Connections: 4})
	if got := s.clientO.PipelineMultiplex; got != 2 {
		t.Errorf("Open with 4 connections: PipelineMultiplex %d, want 2", got)
	}
}

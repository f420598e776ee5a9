package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"
)

// pingCluster is readiness in Redis Cluster (SPEC section 3): the masters of the current
// topology each answer and say cluster_state:ok. It never asks "whichever connection": the
// client keeps the seed addresses of store.redis_addrs among its connections for good, and a
// seed that died in a failover would fail one probe in a few for ever after (issue 8 item 8).
//
// The topology is read with CLUSTER SLOTS from the first node of the client's current view
// that answers (all are asked at once, so a dead or stalled one costs nothing); the masters
// it names are then asked CLUSTER INFO, again at once.
func (s *Store) pingCluster(ctx context.Context) error {
	nodes := s.client.Nodes()
	masters, err := clusterMasters(ctx, nodes)
	if err != nil {
		return err
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		checked int
	)
	for _, addr := range masters {
		n, ok := nodes[addr]
		if !ok {
			// The client has not learnt this master yet; it will on the first command the
			// master's slots receive (a MOVED). The other masters still decide.
			continue
		}
		checked++
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := clusterStateOK(ctx, n)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("master %s: %w", addr, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if checked == 0 {
		return errors.New("redis store: no master of the cluster's topology is known to the client")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	return nil
}

func clusterStateOK(ctx context.Context, n rueidis.Client) error {
	info, err := n.Do(ctx, n.B().ClusterInfo().Build()).ToString()
	if err != nil {
		return fmt.Errorf("cluster info: %w", err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	return nil
}

// clusterMasters returns the addresses of the masters serving slots, as the first node of
// nodes to answer CLUSTER SLOTS sees them.
func clusterMasters(ctx context.Context, nodes map[string]rueidis.Client) ([]string, error) {
	if len(nodes) == 0 {
		return nil, errors.New("redis store: the client knows no cluster node")
	}
	// The slower askers are left to finish within ctx, not cancelled: a cancelled command can
	// fail the dial of a connection that a concurrent command (this probe's CLUSTER INFO,
	// or a login's) is waiting on too.
	type answer struct {
		masters []string
		err     error
	}
	answers := make(chan answer, len(nodes))
	for addr, n := range nodes {
		go func() {
			m, err := slotMasters(ctx, addr, n)
			answers <- answer{m, err}
		}()
	}
	var errs []error
	for range nodes {
		a := <-answers
		if a.err == nil {
			return a.masters, nil
		}
		errs = append(errs, a.err)
	}
	return nil, fmt.Errorf("redis store: no cluster node answered CLUSTER SLOTS: %w", errors.Join(errs...))
}

// slotMasters asks one node for CLUSTER SLOTS: ranges of [start, end, master, replicas…],
// each node being [ip, port, id, …]; an empty ip means the node asked.
func slotMasters(ctx context.Context, addr string, n rueidis.Client) ([]string, error) {
	ranges, err := n.Do(ctx, n.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return nil, fmt.Errorf("%s: cluster slots: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	seen := map[string]bool{}
	var out []string
	for _, r := range ranges {
		fields, err := r.ToArray()
		if err != nil || len(fields) < 3 {
			return nil, fmt.Errorf("%s: cluster slots: unexpected answer", addr)
		}
		node, err := fields[2].ToArray()
		if err != nil || len(node) < 2 {
			return nil, fmt.Errorf("%s: cluster slots: unexpected node", addr)
		}
		ip, _ := node[0].ToString()
		port, err := node[1].AsInt64()
		if err != nil {
			return nil, fmt.Errorf("%s: cluster slots: unexpected port", addr)
		}
		if ip == "" || ip == "?" {
			ip = host
		}
		m := net.JoinHostPort(ip, strconv.FormatInt(port, 10))
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: cluster slots: no slot is served", addr)
	}
	return out, nil
}

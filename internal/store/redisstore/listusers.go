package redisstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// ListUsers walks every bucket position of the namespace in order (empty buckets included:
// with hash tags grouping buckets, a script reads a run of 32 of them in one call, so a walk
// over all 132,096 positions is ~4,100 script calls in ~260 pipelined rounds; SCAN over key
// names would skip empty buckets but needs a cursor per Cluster node). A Lua script filters
// each bucket by the cluster's id server-side, so only matching usernames cross the network.
//
// The cursor is "position.base64url(last username returned)": within a bucket, names are
// ordered by bytes in Go, so a page ends anywhere inside a bucket and the next page resumes
// after that name. Every username bound during the whole walk appears exactly once; one bound
// or unbound meanwhile may or may not appear. A page may hold fewer than limit names (even
// none) while the cursor moves on: each call stops starting new rounds after half the store
// timeout, so an admin page never runs into the deadline.
func (s *Store) ListUsers(ctx context.Context, ns directory.Namespace, code, cursor string, limit int) ([]string, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("list users: limit %d: %w", limit, directory.ErrInvalid)
	}
	pos, after, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	id, err := s.clusterID(ctx, code)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		return nil, "", fmt.Errorf("list users: cluster %q: %w", code, directory.ErrNotFound)
	}
	budget := time.Now().Add(s.pageBudget)
	var page []string
	// A round starts with one script call and doubles while pages stay unfilled: a dense
	// cluster fills a page from one run without reading (and discarding) 15 more, a sparse
	// one soon reads listPipeline runs per round trip.
	width := 1
	for round := 0; pos < totalBuckets; round++ {
		// Every call does at least one round, so the cursor always moves.
		if round > 0 && time.Now().After(budget) {
			return page, formatCursor(pos, after), nil
		}
		var full bool
		page, pos, after, full, err = s.listRound(ctx, ns, id, page, limit, pos, after, width)
		width = min(2*width, listPipeline)
		if err != nil {
			return nil, "", fmt.Errorf("redis store: list users of %q: %w", code, err)
		}
		if full {
			return page, formatCursor(pos, after), nil
		}
	}
	return page, "", nil
}

const (
	listRun      = 32 // buckets read by one script call
	listPipeline = 16 // script calls per round trip
)

// listRound reads up to width runs of buckets from pos on, appends what belongs to the
// page, and returns where the walk continues. full reports that the page reached limit, in
// which case (pos, after) is the position after the last name taken.
func (s *Store) listRound(ctx context.Context, ns directory.Namespace, id string, page []string, limit, pos int,
	after string, width int) (_ []string, nextPos int, nextAfter string, full bool, err error) {
	want := limit - len(page)
	wantArg := strconv.Itoa(want)
	var calls []scriptCall
	var starts []int
	for p := pos; p < totalBuckets && len(calls) < width; {
		end := runEnd(p, listRun)
		ks := make([]string, 0, end-p)
		starts = append(starts, p)
		for ; p < end; p++ {
			ks = append(ks, s.keys.bucket(ns, p))
		}
		calls = append(calls, scriptCall{keys: ks, args: []string{id, wantArg}})
	}
	for i, r := range s.evalMulti(ctx, listLua, calls) {
		arr, err := r.ToArray()
		if err != nil {
			return nil, 0, "", false, err
		}
		if len(arr)%2 != 0 {
			return nil, 0, "", false, fmt.Errorf("list script returned %d elements", len(arr))
		}
		lastOff := -1
		for j := 0; j < len(arr); {
			off, err := arr[j].AsInt64()
			if err != nil {
				return nil, 0, "", false, err
			}
			// The script returns a bucket's names together; take them all, then order them.
			var names []string
			for ; j < len(arr); j += 2 {
				o, _ := arr[j].AsInt64()
				if o != off {
					break
				}
				name, err := arr[j+1].ToString()
				if err != nil {
					return nil, 0, "", false, err
				}
				names = append(names, name)
			}
			b := starts[i] + int(off)
			slices.Sort(names)
			for _, name := range names {
				if b == pos && after != "" && name <= after {
					continue // returned by an earlier page
				}
				page = append(page, name)
				if len(page) == limit {
					return page, b, name, true, nil
				}
			}
			lastOff = int(off)
		}
		if len(arr)/2 >= want {
			// The script stopped after bucket lastOff because it counted enough names
			// (including those filtered out above): the rest of its run was not read, so the
			// next round starts right after lastOff and reads the later runs again.
			return page, starts[i] + lastOff + 1, "", false, nil
		}
	}
	next := totalBuckets
	if last := len(calls) - 1; last >= 0 {
		next = runEnd(starts[last], listRun)
	}
	return page, next, "", false, nil
}

// formatCursor encodes a walk position; parseCursor reads it back. The name is base64url so
// the cursor survives a query string unescaped.
func formatCursor(pos int, after string) string {
	return strconv.Itoa(pos) + "." + base64.RawURLEncoding.EncodeToString([]byte(after))
}

func parseCursor(c string) (pos int, after string, err error) {
	if c == "" {
		return 0, "", nil
	}
	p, a, ok := strings.Cut(c, ".")
	if !ok {
		return 0, "", fmt.Errorf("list users: cursor %q: %w", c, directory.ErrInvalid)
	}
	pos, err = strconv.Atoi(p)
	if err != nil || pos < 0 || pos > totalBuckets {
		return 0, "", fmt.Errorf("list users: cursor %q: %w", c, directory.ErrInvalid)
	}
	name, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		return 0, "", fmt.Errorf("list users: cursor %q: %w", c, directory.ErrInvalid)
	}
	return pos, string(name), nil
}

package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/directory"
)

// defaultListLimit applies when ListUsers is called without a positive limit.
const defaultListLimit = 100

// codeSep joins a username's codes; NormalizeCode never lets it into a code.
const codeSep = ","

// Bind binds username to code in ns.
func (s *Store) Bind(ctx context.Context, ns directory.Namespace, username, code string) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		if err := bindTx(tx, ns, code, []string{username}); err != nil {
			return err
		}
		s.protect(ns, code, []string{username})
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind %s %q to %q: %w", ns, username, code, err)
	}
	return nil
}

// BindMany binds a batch of usernames to code in ns in one transaction: one fsync per batch
// is what makes a bulk import of a million usernames take seconds, not hours.
func (s *Store) BindMany(ctx context.Context, ns directory.Namespace, code string, usernames []string) error {
	if len(usernames) == 0 {
		return ctx.Err()
	}
	// Inserting in key order keeps bbolt's page splits sequential.
	sorted := slices.Clone(usernames)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		if err := bindTx(tx, ns, code, sorted); err != nil {
			return err
		}
		s.protect(ns, code, sorted)
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind %d %s usernames to %q: %w", len(usernames), ns, code, err)
	}
	return nil
}

// bindTx checks that the cluster exists inside the transaction, so a Bind racing with a
// DeleteCluster cannot leave bindings that a re-created cluster would inherit.
func bindTx(tx *bolt.Tx, ns directory.Namespace, code string, usernames []string) error {
	if tx.Bucket(bucketClusters).Get([]byte(code)) == nil {
		return fmt.Errorf("cluster %q: %w", code, directory.ErrNotFound)
	}
	fwd, err := bindingsBucket(tx, ns)
	if err != nil {
		return err
	}
	list, err := tx.Bucket(bucketMembers).Bucket([]byte(ns)).CreateBucketIfNotExists([]byte(code))
	if err != nil {
		return err
	}
	for _, username := range usernames {
		key := []byte(username)
		codes := decodeCodes(fwd.Get(key))
		i, found := slices.BinarySearch(codes, code)
		if !found {
			if err := fwd.Put(key, encodeCodes(slices.Insert(codes, i, code))); err != nil {
				return fmt.Errorf("username %q: %w", username, err)
			}
		}
		if err := list.Put(key, []byte{}); err != nil {
			return fmt.Errorf("username %q: %w", username, err)
		}
	}
	return nil
}

// Unbind removes a binding; an absent binding is not an error.
func (s *Store) Unbind(ctx context.Context, ns directory.Namespace, username, code string) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		fwd, err := bindingsBucket(tx, ns)
		if err != nil {
			return err
		}
		if err := removeCode(fwd, []byte(username), code); err != nil {
			return err
		}
		s.protect(ns, code, []string{username})
		if list := tx.Bucket(bucketMembers).Bucket([]byte(ns)).Bucket([]byte(code)); list != nil {
			return list.Delete([]byte(username))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unbind %s %q from %q: %w", ns, username, code, err)
	}
	return nil
}

// removeCode drops code from username's forward record, deleting the record when it was the
// last one so an unbound user is an unknown user again.
func removeCode(fwd *bolt.Bucket, username []byte, code string) error {
	codes := decodeCodes(fwd.Get(username))
	i, found := slices.BinarySearch(codes, code)
	if !found {
		return nil
	}
	codes = slices.Delete(codes, i, i+1)
	if len(codes) == 0 {
		return fwd.Delete(username)
	}
	return fwd.Put(username, encodeCodes(codes))
}

// Lookup returns the codes bound to username in ns, sorted; empty for an unknown username.
func (s *Store) Lookup(ctx context.Context, ns directory.Namespace, username string) ([]string, error) {
	var codes []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		fwd, err := bindingsBucket(tx, ns)
		if err != nil {
			return err
		}
		// decodeCodes copies: the value is only valid inside the transaction.
		codes = decodeCodes(fwd.Get([]byte(username)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup %s %q: %w", ns, username, err)
	}
	if codes == nil {
		codes = []string{}
	}
	return codes, nil
}

// ListUsers returns up to limit usernames bound to code in ns, in byte order, after cursor.
// The cursor is the last username returned: a username unbound between pages cannot make
// the next page start over or skip, because the scan seeks by key rather than by position.
func (s *Store) ListUsers(ctx context.Context, ns directory.Namespace, code, cursor string, limit int) ([]string, string, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	var (
		page []string
		next string
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if _, err := bindingsBucket(tx, ns); err != nil {
			return err
		}
		list := tx.Bucket(bucketMembers).Bucket([]byte(ns)).Bucket([]byte(code))
		if list == nil {
			return nil
		}
		c := list.Cursor()
		var k []byte
		if cursor == "" {
			k, _ = c.First()
		} else if k, _ = c.Seek([]byte(cursor)); k != nil && string(k) == cursor {
			k, _ = c.Next()
		}
		for ; k != nil && len(page) < limit; k, _ = c.Next() {
			page = append(page, string(k))
		}
		// k is the first username not returned: only then is there a next page.
		if k != nil {
			next = page[len(page)-1]
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list %s users of %q: %w", ns, code, err)
	}
	return page, next, nil
}

func bindingsBucket(tx *bolt.Tx, ns directory.Namespace) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketBindings).Bucket([]byte(ns))
	if b == nil {
		return nil, fmt.Errorf("namespace %q: %w", ns, directory.ErrInvalid)
	}
	return b, nil
}

func decodeCodes(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	return strings.Split(string(v), codeSep)
}

func encodeCodes(codes []string) []byte {
	return []byte(strings.Join(codes, codeSep))
}

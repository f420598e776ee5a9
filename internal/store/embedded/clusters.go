package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/directory"
)

// PutCluster creates or replaces a cluster.
func (s *Store) PutCluster(ctx context.Context, c directory.Cluster) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put cluster %q: %w", c.Code, err)
	}
	err = s.update(ctx, false, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusters).Put([]byte(c.Code), data)
	})
	if err != nil {
		return fmt.Errorf("put cluster %q: %w", c.Code, err)
	}
	return nil
}

// GetCluster returns the cluster with code, or directory.ErrNotFound.
func (s *Store) GetCluster(ctx context.Context, code string) (directory.Cluster, error) {
	var c directory.Cluster
	err := s.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketClusters).Get([]byte(code))
		if data == nil {
			return directory.ErrNotFound
		}
		return json.Unmarshal(data, &c)
	})
	if err != nil {
		return directory.Cluster{}, fmt.Errorf("get cluster %q: %w", code, err)
	}
	return c, nil
}

// ListClusters returns every cluster ordered by code: bbolt keeps keys in byte order.
func (s *Store) ListClusters(ctx context.Context) ([]directory.Cluster, error) {
	var list []directory.Cluster
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusters).ForEach(func(k, v []byte) error {
			var c directory.Cluster
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("cluster %q: %w", k, err)
			}
			list = append(list, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	return list, nil
}

// DeleteCluster removes the cluster and all its bindings in one transaction, so no reader
// ever sees a deleted cluster's bindings and a cluster created again starts empty.
func (s *Store) DeleteCluster(ctx context.Context, code string) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		clusters := tx.Bucket(bucketClusters)
		if clusters.Get([]byte(code)) == nil {
			return directory.ErrNotFound
		}
		if err := clusters.Delete([]byte(code)); err != nil {
			return err
		}
		for _, ns := range directory.Namespaces {
			if err := unbindAll(tx, ns, code); err != nil {
				return fmt.Errorf("namespace %s: %w", ns, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete cluster %q: %w", code, err)
	}
	return nil
}

// unbindAll removes code from every username in its member list, then drops the list.
func unbindAll(tx *bolt.Tx, ns directory.Namespace, code string) error {
	fwd, err := bindingsBucket(tx, ns)
	if err != nil {
		return err
	}
	members := tx.Bucket(bucketMembers).Bucket([]byte(ns))
	list := members.Bucket([]byte(code))
	if list == nil {
		return nil
	}
	err = list.ForEach(func(username, _ []byte) error {
		return removeCode(fwd, username, code)
	})
	if err != nil {
		return err
	}
	return members.DeleteBucket([]byte(code))
}

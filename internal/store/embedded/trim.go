package embedded

import (
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt reads the file through a shared, read-only memory map. Every page a lookup touches
// stays mapped into the process — and the kernel maps up to 16 neighbouring pages with each
// fault (fault-around), so one cache miss pins 64 KiB of the file into the process's RSS. With
// a million usernames looked up once each (the directory cache then answers them), the whole
// bindings tree and the pages between it end up counted: 80 MiB of RSS at 1 M bindings
// (docs/benchmarks.md) for data the process will not read again.
//
// trimMapping drops those pages from the process's page tables (madvise MADV_DONTNEED). The
// mapping is shared and read-only, so nothing is lost: the pages stay in the kernel's page
// cache, and the next read of one of them is a minor fault that maps it again. It runs inside a
// read transaction, which holds bbolt's mmap lock: the mapping cannot be replaced (remapped
// to grow the file) while it is advised, so the range is always bbolt's own.
func (s *Store) trimMapping() error {
	return s.db.View(func(tx *bolt.Tx) error {
		info := tx.DB().Info()
		size := uintptr(tx.Size()) // the file's pages in use: never beyond the mapping
		if info.Data == 0 || size == 0 {
			return nil
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, info.Data, size, syscall.MADV_DONTNEED)
		if errno != 0 {
			return errno
		}
		return nil
	})
}

// trimLoop trims the mapping every TrimInterval until the store closes.
func (s *Store) trimLoop() {
	defer s.sweeper.Done()
	t := time.NewTicker(s.opts.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.trimMapping(); err != nil {
				s.opts.Logger.Warn("embedded store: releasing the file mapping's pages failed", "err", err)
			}
		}
	}
}

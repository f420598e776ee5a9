package gateway

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeSecretFile replaces path with data, readable and writable by the owner only (0600),
// whatever file was there: os.WriteFile keeps an existing file's mode, so a token written
// over an old world-readable admin-token stayed world-readable (issue 8 item 9). The data goes
// to a new file of mode 0600 (os.CreateTemp) beside path, which is then renamed over it: a
// reader sees the old token or the new one, never a mixture, and never a moment at 0644.
func writeSecretFile(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil { // explicit: the mode must not depend on the umask
		f.Close()
		return fmt.Errorf("chmod: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

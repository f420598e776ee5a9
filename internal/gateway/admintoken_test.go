package gateway_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ssogate/ssogate/internal/config"
)

// The generated admin-token file is 0600 even when a file was there already: os.WriteFile
// kept the old file's mode, so a world-readable file stayed world-readable (issue 8 item 9).
func TestGeneratedAdminTokenFileIsOwnerOnly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: no file before the start
	}{
		{name: "new file"},
		{name: "existing world-readable file", existing: 0o644},
		{name: "existing world-writable file", existing: 0o666},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "admin-token")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old-token\n"), tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			e := startGateway(t, &syncBuffer{}, nil, func(c *config.Config) {
				c.AdminToken = ""
				c.Store.Path = filepath.Join(dir, "ssogate.db")
			})
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("admin-token mode %v, want 0600", st.Mode().Perm())
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tok := e.g.AdminToken(); tok == "" || string(raw) != tok+"\n" {
				t.Fatal("the file does not hold the generated token")
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".admin-token.*"))
			if len(leftovers) != 0 {
				t.Fatalf("temporary files left: %v", leftovers)
			}
		})
	}
}

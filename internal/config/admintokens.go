package config

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ssogate/ssogate/internal/directory"
)

// AdminToken is one entry of `admin_tokens` (SPEC section 8): a named bearer token known only
// by its SHA-256, with scope "admin" or "cluster:CODE". The list is re-read on SIGHUP, so a
// leaked token is rotated without a restart.
type AdminToken struct {
	// Name is the actor recorded for every change made with the token.
	Name string `yaml:"name"`
	// TokenSHA256 is the hex SHA-256 of the token (`printf %s TOKEN | sha256sum`).
	TokenSHA256 string `yaml:"token_sha256"`
	// Scope is "admin" or "cluster:CODE".
	Scope string `yaml:"scope"`
}

// adminTokens checks every entry, naming the key of each problem, and normalises the scope's
// code to upper case. Digests are not secrets, but they are never echoed either.
func (v *validator) adminTokens(list []AdminToken) {
	names := map[string]int{}
	digests := map[string]int{}
	for i := range list {
		t := &list[i]
		key := fmt.Sprintf("admin_tokens[%d]", i)
		t.Name = strings.TrimSpace(t.Name)
		switch {
		case t.Name == "":
			v.add(key+".name", "is required (it is the actor recorded for the token's changes)")
		case strings.ContainsFunc(t.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			v.add(key+".name", "must not contain control characters")
		case t.Name == directory.ActorConfig || t.Name == directory.ActorSync:
			v.add(key+".name", "%q is reserved for changes made by the configuration or a scheduled sync", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				v.add(key+".name", "duplicates admin_tokens[%d].name %q", j, t.Name)
			}
			names[t.Name] = i
		}
		t.TokenSHA256 = strings.ToLower(strings.TrimSpace(t.TokenSHA256))
		if b, err := hex.DecodeString(t.TokenSHA256); err != nil || len(b) != 32 {
			v.add(key+".token_sha256", "must be the SHA-256 of the token as 64 hexadecimal digits")
		} else {
			if j, dup := digests[t.TokenSHA256]; dup {
				v.add(key+".token_sha256", "is the same token as admin_tokens[%d]", j)
			}
			digests[t.TokenSHA256] = i
		}
		scope := strings.TrimSpace(t.Scope)
		if scope == "admin" {
			t.Scope = scope
			continue
		}
		rest, ok := strings.CutPrefix(scope, "cluster:")
		code, err := directory.NormalizeCode(rest)
		if !ok || err != nil {
			v.add(key+".scope", `must be "admin" or "cluster:CODE" with a valid cluster code, got %q`, t.Scope)
			continue
		}
		t.Scope = "cluster:" + code
	}
}

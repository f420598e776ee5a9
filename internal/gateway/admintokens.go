package gateway

import (
	"fmt"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/config"
)

// adminTokenList is the token set of a configuration: the legacy admin_token (scope admin,
// actor "admin") and every admin_tokens entry. Without a configured legacy token, the one
// generated at start (if any) stays valid.
func (g *Gateway) adminTokenList(cfg config.Config) ([]admin.Token, error) {
	var list []admin.Token
	switch {
	case cfg.AdminToken != "":
		list = append(list, admin.LegacyToken(cfg.AdminToken))
	case g.generatedToken != "":
		list = append(list, admin.LegacyToken(g.generatedToken))
	}
	for i, t := range cfg.AdminTokens {
		digest, err := admin.ParseSHA256(t.TokenSHA256)
		if err != nil {
			return nil, fmt.Errorf("admin_tokens[%d].token_sha256: %w", i, err)
		}
		list = append(list, admin.Token{Name: t.Name, SHA256: digest, Scope: t.Scope})
	}
	return list, nil
}

// applyAdminTokens replaces the admin API's accepted tokens with the configuration's (SPEC
// section 6: rotating a leaked token needs no restart). On error the previous set stays.
func (g *Gateway) applyAdminTokens(cfg config.Config) error {
	list, err := g.adminTokenList(cfg)
	if err != nil {
		return err
	}
	if err := g.tokens.Set(list); err != nil {
		return fmt.Errorf("admin_tokens: %w", err)
	}
	if cfg.AdminToken != "" {
		g.adminToken = cfg.AdminToken
	}
	return nil
}

// AdminTokens is the accepted token set (shared with a second admin surface such as the
// console: auth lives in one place). Reload replaces its content.
func (g *Gateway) AdminTokens() *admin.Tokens { return g.tokens }

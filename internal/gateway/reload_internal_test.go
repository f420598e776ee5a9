package gateway

import (
	"testing"

	"github.com/ssogate/ssogate/internal/config"
)

// Every key of the configuration has a reload rule, its own or its section's: applied on
// reload or named as needing a restart (SPEC section 6). A key added without its line in
// reloadRules fails here (it would still be warned about, as "no reload rule").
func TestEveryKeyHasAReloadRule(t *testing.T) {
	for _, k := range config.Keys() {
		r, ok := ruleFor(k)
		if !ok {
			t.Errorf("key %q has no line in reloadRules (reload.go)", k)
			continue
		}
		if r.apply == nil && r.restart == "" {
			t.Errorf("key %q needs a restart but its rule does not say why", k)
		}
	}
	for _, r := range reloadRules {
		if r.apply != nil && r.restart != "" {
			t.Errorf("rule %q both applies and asks for a restart", r.key)
		}
	}
}

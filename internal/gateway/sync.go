package gateway

import "github.com/ssogate/ssogate/internal/syncer"

// Syncer runs the clusters' scheduled syncs; its Status answers GET /admin/clusters/{code}/sync
// (and may back a console page).
func (g *Gateway) Syncer() *syncer.Syncer { return g.syncer }

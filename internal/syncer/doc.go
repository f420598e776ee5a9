// Package syncer runs the clusters' scheduled syncs (SPEC section 8): it fetches each
// cluster's complete user list from its sync URL and reconciles the directory with it, one
// gateway instance at a time per cluster (a lease in the shared store), keeping a status in
// the store that any instance reports.
package syncer

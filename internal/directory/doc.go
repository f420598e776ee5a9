// Package directory provides the domain of ssogate — clusters, user-to-cluster bindings and the
// errors of resolving a user — plus the storage contract every backend implements and the
// cached Directory that answers lookups on the hot path.
package directory

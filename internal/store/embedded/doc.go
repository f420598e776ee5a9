// Package embedded provides the default store: clusters, bindings, refresh-token records and
// rate-limit counters in a single durable bbolt file owned by one gateway process.
package embedded

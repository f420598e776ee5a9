// Package redisstore provides the Redis storage backend (standalone, Sentinel or Redis Cluster)
// that lets any number of gateway instances share clusters, bindings, refresh-token records and
// brute-force counters, laid out for memory (SPEC sections 3 and 7).
package redisstore

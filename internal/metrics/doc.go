// Package metrics provides the gateway's Prometheus metrics, served on the admin listener.
package metrics

// Package logsink provides a buffered writer for log lines, flushed on a short interval, so
// that the access log (one line per request) costs a memory copy per request instead of a
// write system call.
package logsink

// Package sdnotify speaks systemd's notify protocol (sd_notify(3)): READY=1, STOPPING=1 and
// WATCHDOG=1 datagrams to $NOTIFY_SOCKET, for a Type=notify unit with a watchdog (SPEC
// section 10).
package sdnotify

// Package gateway assembles a running ssogate from its configuration: the store, the
// directory, the SSO forwarder, the token endpoint, the admin API and metrics, with a
// lifecycle of New, Run and Close.
package gateway

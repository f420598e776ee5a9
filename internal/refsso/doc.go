// Package refsso provides the reference SSO: a small in-memory OAuth2 token server speaking the
// Spring Security OAuth2 dialect of the seed document, which the demo and the end-to-end tests
// put behind the gateway.
package refsso

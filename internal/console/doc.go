// Package console serves the operator console at /ui/ on the admin listener (SPEC section 9):
// server-rendered pages (html/template, assets embedded) over the same directory and the
// same admin API routes as the API itself, behind a signed session cookie, CSRF checks and a
// Content-Security-Policy without inline scripts.
package console

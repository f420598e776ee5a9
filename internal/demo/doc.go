// Package demo provides `ssogate demo`: a gateway on a fresh embedded store, two reference
// SSOs on loopback and sample users, with ready-to-paste curl lines for every answer code.
package demo

// Package config provides ssogate's typed configuration: defaults, the YAML file, SSOGATE_*
// environment overrides and one Validate that reports every problem by key (SPEC section 6).
package config

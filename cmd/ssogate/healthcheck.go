package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ssogate/ssogate/internal/config"
)

// healthcheck probes /readyz and exits 0 when it answers 200, 1 otherwise: the container
// image's HEALTHCHECK, which has no curl (SPEC section 10). Without --url the address is the
// admin listener of the configuration serve would read (--config and SSOGATE_* variables),
// reached on loopback.
func healthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "URL to probe (default: /readyz of admin_listen on loopback)")
	path := fs.String("config", "", "YAML configuration file whose admin_listen to probe")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	insecure := fs.Bool("insecure", false, "do not verify the TLS certificate of --url")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	target := *rawURL
	// Our own loopback listener: its certificate names the service, not 127.0.0.1.
	skipVerify := *insecure
	if target == "" {
		u, err := readyzURL(*path)
		if err != nil {
			fmt.Fprintln(stderr, "ssogate healthcheck:", err)
			return 1
		}
		target, skipVerify = u, true
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12},
		Proxy:           nil, // a probe of loopback never goes through HTTP_PROXY
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(stderr, "ssogate healthcheck:", err)
		return 2
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "ssogate healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ssogate healthcheck: %s answered %d %s\n", target, resp.StatusCode, body)
		return 1
	}
	return 0
}

// readyzURL is /readyz of the configured admin listener, an unspecified host ("", 0.0.0.0,
// ::) replaced by loopback.
func readyzURL(path string) (string, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return "", fmt.Errorf("configuration: %w", err)
	}
	host, port, err := net.SplitHostPort(cfg.AdminListen)
	if err != nil {
		return "", fmt.Errorf("admin_listen %q: %w", cfg.AdminListen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.AdminTLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

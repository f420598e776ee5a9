package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set by packagers with -ldflags "-X main.buildVersion=1.2.3 -X main.buildCommit=… -X
// main.buildDate=…" (the Makefile does); empty values fall back to the build info the Go
// toolchain embeds (the module version, vcs.revision and vcs.time of a build from a checkout).
var (
	buildVersion string
	buildCommit  string
	buildDate    string
)

// buildInfo is what `ssogate version` prints.
type buildInfo struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Commit: "unknown", Date: "unknown", Go: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" {
			b.Version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if buildVersion != "" {
		b.Version = buildVersion
	}
	if buildCommit != "" {
		b.Commit, b.Modified = buildCommit, false
	}
	if buildDate != "" {
		b.Date = buildDate
	}
	return b
}

func printVersion(w io.Writer) {
	b := readBuildInfo()
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "ssogate %s\ncommit: %s\nbuilt: %s\ngo: %s\n", b.Version, commit, b.Date, b.Go)
}

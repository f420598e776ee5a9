package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load builds the configuration of SPEC section 6: Default, then the YAML file at path (skipped
// when path is ""), then the SSOGATE_* variables of env (os.Environ() in production), then
// Validate. Unknown keys in the file are errors; unknown SSOGATE_* variables are not (see
// ApplyEnv). On a validation error the loaded configuration is returned beside the error, so
// `serve --check-config` can still show it.
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeFile(path, data, &cfg); err != nil {
			return cfg, err
		}
	}
	// A bad variable leaves its key as it was, so the rest is still worth validating: the
	// operator sees every problem in one run.
	envErr := ApplyEnv(&cfg, env)
	valErr := cfg.Validate()
	nameEnvSources(valErr, env)
	return cfg, errors.Join(append(unjoin(envErr), unjoin(valErr)...)...)
}

// nameEnvSources sets the Source of each validation problem whose key took its value from
// the environment, so that SSOGATE_SSO_TIMEOUT=0s is reported as "SSOGATE_SSO_TIMEOUT:
// sso.timeout: must be positive" and not as if the file said so (README: the message names
// the variable when the value came from the environment).
func nameEnvSources(err error, env []string) {
	if err == nil {
		return
	}
	fromEnv := envKeys(env)
	for _, e := range unjoin(err) {
		var fe *FieldError
		if !errors.As(e, &fe) || fe.Source != "" {
			continue
		}
		key, _, _ := strings.Cut(fe.Key, "[") // http.trusted_proxies[1] came from http.trusted_proxies
		if name, ok := fromEnv[key]; ok {
			fe.Source = name
		}
	}
}

// unjoin returns the errors an errors.Join holds, so joining two joins stays flat.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// decodeFile decodes one YAML document over cfg: keys present replace the defaults, keys
// absent keep them. Every unknown key and ill-typed value is reported at once, by key.
func decodeFile(path string, data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil // an empty file keeps every default
	}
	if err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fileErrors(path, data, te.Errors)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: more than one YAML document", path)
	}
	return nil
}

var (
	yamlLineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlUnknownRE = regexp.MustCompile(`^field (\S+) not found in type `)
)

// fileErrors turns yaml's "line N: …" messages into FieldErrors that name the key, found by
// the line it sits on: yaml reports Go type names, the operator wrote YAML keys.
func fileErrors(path string, data []byte, msgs []string) error {
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root) // it decoded once already; a failure only loses key names
	lines := keyLines(&root)
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		m := yamlLineRE.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, &FieldError{Source: path, Msg: msg})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		switch {
		case yamlUnknownRE.MatchString(text):
			text = "unknown key"
		case strings.HasSuffix(text, "into time.Duration"):
			text += ` (write a Go duration such as "10s" or "15m")`
		}
		key := lines[line]
		if strings.HasPrefix(key, "[") {
			key = "" // the document itself is a list, not a mapping of keys
		}
		errs = append(errs, &FieldError{Source: fmt.Sprintf("%s:%d", path, line), Key: key, Msg: text})
	}
	return errors.Join(errs...)
}

// keyLines maps each line of the document to the dotted key written on it ("store.driver",
// "clusters[1].sso_url"); the innermost key wins.
func keyLines(root *yaml.Node) map[int]string {
	lines := map[int]string{}
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				child := k.Value
				if key != "" {
					child = key + "." + k.Value
				}
				lines[k.Line] = child
				walk(n.Content[i+1], child)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				child := fmt.Sprintf("%s[%d]", key, i)
				lines[c.Line] = child
				walk(c, child)
			}
		case yaml.ScalarNode:
			if key != "" {
				lines[n.Line] = key
			}
		}
	}
	walk(root, "")
	return lines
}

package config

import (
	"fmt"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"go.yaml.in/yaml/v3"
)

// Clusters is the `clusters` list: entries shaped like the admin API's cluster (SPEC section 5),
// upserted into the store at start and on SIGHUP. Ranging over it yields directory.Cluster.
type Clusters []directory.Cluster

// clusterYAML is one entry as written in the file. Enabled is a pointer so that an omitted
// `enabled` means true, as in the admin API's PUT.
type clusterYAML struct {
	Code      string `yaml:"code"`
	Name      string `yaml:"name"`
	SSOURL    string `yaml:"sso_url"`
	ServerURL string `yaml:"server_url"`
	TokenURL  string `yaml:"token_url,omitempty"`
	Enabled   *bool  `yaml:"enabled"`
	// Sync is the scheduled sync (SPEC section 8), shaped as in the admin API.
	Sync *syncYAML `yaml:"sync,omitempty"`
}

type syncYAML struct {
	URL            string        `yaml:"url"`
	Interval       time.Duration `yaml:"interval"`
	HeaderName     string        `yaml:"header_name,omitempty"`
	HeaderValueEnv string        `yaml:"header_value_env,omitempty"`
}

func (y *syncYAML) cluster() *directory.ClusterSync {
	if y == nil {
		return nil
	}
	return &directory.ClusterSync{URL: y.URL, Interval: directory.Duration(y.Interval),
		HeaderName: y.HeaderName, HeaderValueEnv: y.HeaderValueEnv}
}

func syncOf(s *directory.ClusterSync) *syncYAML {
	if s == nil {
		return nil
	}
	return &syncYAML{URL: s.URL, Interval: time.Duration(s.Interval), HeaderName: s.HeaderName, HeaderValueEnv: s.HeaderValueEnv}
}

var syncKeys = map[string]bool{"url": true, "interval": true, "header_name": true, "header_value_env": true}

var clusterKeys = map[string]bool{
	"code": true, "name": true, "sso_url": true, "server_url": true, "token_url": true, "enabled": true, "sync": true,
}

// UnmarshalYAML decodes the list. A custom unmarshaler is decoded without the file decoder's
// KnownFields, so unknown keys are checked here, all of them reported at once.
func (cs *Clusters) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.SequenceNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: must be a list", n.Line)}}
	}
	var problems []string
	out := make(Clusters, 0, len(n.Content))
	for _, item := range n.Content {
		item = resolveAlias(item)
		if item.Kind != yaml.MappingNode {
			problems = append(problems, fmt.Sprintf("line %d: must be a mapping", item.Line))
			continue
		}
		bad := false
		for k := 0; k+1 < len(item.Content); k += 2 {
			if key := item.Content[k]; !clusterKeys[key.Value] {
				problems = append(problems, fmt.Sprintf("line %d: field %s not found in type directory.Cluster", key.Line, key.Value))
				bad = true
			} else if key.Value == "sync" {
				if sync := resolveAlias(item.Content[k+1]); sync.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(sync.Content); j += 2 {
						if sk := sync.Content[j]; !syncKeys[sk.Value] {
							problems = append(problems, fmt.Sprintf("line %d: field %s not found in sync (url, interval, header_name, header_value_env)", sk.Line, sk.Value))
							bad = true
						}
					}
				}
			}
		}
		var y clusterYAML
		if err := item.Decode(&y); err != nil {
			if te, ok := err.(*yaml.TypeError); ok {
				problems = append(problems, te.Errors...)
			} else {
				problems = append(problems, fmt.Sprintf("line %d: %v", item.Line, err))
			}
			continue
		}
		if bad {
			continue
		}
		out = append(out, directory.Cluster{
			Code:      y.Code,
			Name:      y.Name,
			SSOURL:    y.SSOURL,
			ServerURL: y.ServerURL,
			TokenURL:  y.TokenURL,
			Enabled:   y.Enabled == nil || *y.Enabled,
			Sync:      y.Sync.cluster(),
		})
	}
	if len(problems) > 0 {
		return &yaml.TypeError{Errors: problems}
	}
	*cs = out
	return nil
}

// MarshalYAML writes the entries under the file's keys, enabled always explicit.
func (cs Clusters) MarshalYAML() (any, error) {
	out := make([]clusterYAML, len(cs))
	for i, c := range cs {
		enabled := c.Enabled
		out[i] = clusterYAML{
			Code: c.Code, Name: c.Name, SSOURL: c.SSOURL, ServerURL: c.ServerURL,
			TokenURL: c.TokenURL, Enabled: &enabled, Sync: syncOf(c.Sync),
		}
	}
	return out, nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

package deploy_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const chartDir = "deploy/helm/ssogate"

// obj is one rendered manifest.
type obj map[string]any

func (o obj) kind() string { s, _ := o["kind"].(string); return s }

// get walks a path of map keys and list indexes ("spec", "template", 0 …).
func (o obj) get(path ...any) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m := asObj(cur)
			if m == nil {
				return nil
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			cur = l[k]
		}
	}
	return cur
}

// asObj is v as a mapping (yaml decodes nested mappings of an obj as obj), or nil.
func asObj(v any) obj {
	switch m := v.(type) {
	case obj:
		return m
	case map[string]any:
		return obj(m)
	}
	return nil
}

func (o obj) str(path ...any) string { s, _ := o.get(path...).(string); return s }

func helmTemplate(t *testing.T, helm string, set ...string) (string, error) {
	t.Helper()
	args := []string{"template", "rel", chartDir, "--namespace", "auth"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return runErr(repoRoot, nil, helm, args...)
}

func parseManifests(t *testing.T, out string) map[string][]obj {
	t.Helper()
	byKind := map[string][]obj{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests are not YAML: %v\n%s", err, out)
		}
		if o != nil {
			byKind[o.kind()] = append(byKind[o.kind()], o)
		}
	}
	return byKind
}

// SPEC section 10: `helm lint` and `helm template` pass for each Redis topology, and what
// matters in the rendered manifests holds: probes on the admin port, a hardened pod, two
// Services, PDB, NetworkPolicy, topology spread, the token from a Secret, and a config the
// pod would read that `ssogate serve --check-config` accepts. What this cannot show: the
// chart applied to a real Kubernetes API server (none here), so admission and scheduling are
// not exercised.
func TestHelmChart(t *testing.T) {
	helm := tool(t, "helm")
	bin := binary(t)
	topologies := []struct {
		name  string
		set   []string
		check func(t *testing.T, store map[string]any)
	}{
		{"standalone", []string{"redis.mode=standalone", "redis.addrs={redis:6379}"}, func(t *testing.T, s map[string]any) {
			if _, ok := s["redis_master"]; ok {
				t.Error("standalone config names a Sentinel master")
			}
		}},
		{"sentinel", []string{"redis.mode=sentinel", "redis.addrs={s1:26379,s2:26379,s3:26379}", "redis.masterName=mymaster"}, func(t *testing.T, s map[string]any) {
			if s["redis_master"] != "mymaster" || len(s["redis_addrs"].([]any)) != 3 {
				t.Errorf("sentinel store config: %v", s)
			}
		}},
		{"cluster", []string{"redis.mode=cluster", "redis.addrs={n1:6379,n2:6379,n3:6379}"}, func(t *testing.T, s map[string]any) {
			if _, ok := s["redis_master"]; ok || len(s["redis_addrs"].([]any)) != 3 {
				t.Errorf("cluster store config: %v", s)
			}
		}},
	}
	common := []string{
		"adminToken.value=chart-admin-token", "redis.password.value=redis-pw",
		"clusters[0].code=ACME", "clusters[0].name=Acme", "clusters[0].sso_url=https://sso.acme.test/sso", "clusters[0].server_url=https://api.acme.test",
	}
	for _, tc := range topologies {
		t.Run(tc.name, func(t *testing.T) {
			set := append(append([]string{}, common...), tc.set...)
			lintArgs := []string{"lint", chartDir, "--strict"}
			for _, s := range set {
				lintArgs = append(lintArgs, "--set", s)
			}
			run(t, repoRoot, nil, helm, lintArgs...)
			out, err := helmTemplate(t, helm, set...)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, out)
			}
			m := parseManifests(t, out)
			for kind, n := range map[string]int{"Deployment": 1, "Service": 2, "ConfigMap": 1, "Secret": 2, "PodDisruptionBudget": 1, "NetworkPolicy": 1} {
				if len(m[kind]) != n {
					t.Fatalf("%d %s, want %d", len(m[kind]), kind, n)
				}
			}
			if len(m["HorizontalPodAutoscaler"])+len(m["ServiceMonitor"]) != 0 {
				t.Fatal("HPA or ServiceMonitor rendered although not enabled")
			}
			dep := m["Deployment"][0]
			pod := asObj(dep.get("spec", "template", "spec"))
			c := asObj(pod.get("containers", 0))

			adminPort := namedPort(t, c, "admin")
			for _, probe := range []struct{ key, path string }{{"livenessProbe", "/healthz"}, {"readinessProbe", "/readyz"}} {
				if c.str(probe.key, "httpGet", "path") != probe.path || c.str(probe.key, "httpGet", "port") != "admin" {
					t.Errorf("%s: %v, want %s on the admin port", probe.key, c.get(probe.key), probe.path)
				}
			}
			hardening := []struct {
				what string
				ok   bool
			}{
				{"runAsNonRoot", pod.get("securityContext", "runAsNonRoot") == true},
				{"runAsUser 65532", pod.get("securityContext", "runAsUser") == 65532},
				{"readOnlyRootFilesystem", c.get("securityContext", "readOnlyRootFilesystem") == true},
				{"no privilege escalation", c.get("securityContext", "allowPrivilegeEscalation") == false},
				{"all capabilities dropped", c.get("securityContext", "capabilities", "drop", 0) == "ALL"},
				{"no service account token", pod.get("automountServiceAccountToken") == false},
				{"topology spread over zones and nodes", pod.str("topologySpreadConstraints", 0, "topologyKey") == "topology.kubernetes.io/zone" &&
					pod.str("topologySpreadConstraints", 1, "topologyKey") == "kubernetes.io/hostname"},
				{"2 replicas", dep.get("spec", "replicas") == 2},
			}
			for _, h := range hardening {
				if !h.ok {
					t.Errorf("pod spec: %s does not hold", h.what)
				}
			}
			// Two Services: public on 9000, admin on 9001, each to its named port.
			ports := map[string]string{}
			for _, s := range m["Service"] {
				ports[s.str("metadata", "name")] = s.str("spec", "ports", 0, "targetPort")
			}
			if ports["rel-ssogate"] != "public" || ports["rel-ssogate-admin"] != "admin" {
				t.Errorf("services: %v", ports)
			}
			// The NetworkPolicy opens the public port to all and the admin port to named peers.
			np := m["NetworkPolicy"][0]
			if np.str("spec", "ingress", 0, "ports", 0, "port") != "public" || np.get("spec", "ingress", 0, "from") != nil ||
				np.str("spec", "ingress", 1, "ports", 0, "port") != "admin" || np.get("spec", "ingress", 1, "from") == nil {
				t.Errorf("network policy does not keep the admin port internal: %v", np.get("spec", "ingress"))
			}

			// The configuration the pod reads, with the environment it gets from Secrets.
			var cfgText string
			for _, cm := range m["ConfigMap"] {
				cfgText, _ = cm.get("data", "ssogate.yaml").(string)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
				t.Fatalf("ssogate.yaml: %v\n%s", err, cfgText)
			}
			tc.check(t, cfg["store"].(map[string]any))
			if _, port, _ := net.SplitHostPort(cfg["admin_listen"].(string)); port != adminPort {
				t.Errorf("admin_listen %v is not the probed container port %s", cfg["admin_listen"], adminPort)
			}
			env := podEnv(t, c, m["Secret"])
			if env["SSOGATE_ADMIN_TOKEN"] != "chart-admin-token" || env["SSOGATE_STORE_REDIS_PASSWORD"] != "redis-pw" {
				t.Errorf("secrets in the environment: %v", env)
			}
			path := filepath.Join(t.TempDir(), "ssogate.yaml")
			if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			var envList []string
			for k, v := range env {
				envList = append(envList, k+"="+v)
			}
			out = run(t, "", withoutSSOGATE(envList...), bin, "serve", "--check-config", "--config", path)
			if !strings.Contains(out, "code: ACME") || !strings.Contains(out, "driver: redis") || strings.Contains(out, "chart-admin-token") {
				t.Errorf("check-config output:\n%s", out)
			}
		})
	}

	t.Run("optional HPA, ServiceMonitor and TLS", func(t *testing.T) {
		out, err := helmTemplate(t, helm, "adminToken.existingSecret=mine", "autoscaling.enabled=true", "serviceMonitor.enabled=true",
			"tls.secretName=public-tls", "adminTls.secretName=admin-tls")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		m := parseManifests(t, out)
		if len(m["HorizontalPodAutoscaler"]) != 1 || len(m["ServiceMonitor"]) != 1 || len(m["Secret"]) != 0 {
			t.Fatalf("kinds rendered: HPA %d, ServiceMonitor %d, Secret %d", len(m["HorizontalPodAutoscaler"]), len(m["ServiceMonitor"]), len(m["Secret"]))
		}
		dep := m["Deployment"][0]
		if dep.get("spec", "replicas") != nil {
			t.Error("replicas set although the HPA scales the Deployment")
		}
		c := asObj(dep.get("spec", "template", "spec", "containers", 0))
		if c.str("readinessProbe", "httpGet", "scheme") != "HTTPS" {
			t.Error("probes are not HTTPS with admin TLS on")
		}
		if sm := m["ServiceMonitor"][0]; sm.str("spec", "endpoints", 0, "port") != "admin" || sm.str("spec", "endpoints", 0, "scheme") != "https" {
			t.Errorf("service monitor: %v", sm.get("spec"))
		}
		cfg := m["ConfigMap"][0].str("data", "ssogate.yaml")
		if !strings.Contains(cfg, "cert_file: /etc/ssogate/tls/tls.crt") || !strings.Contains(cfg, "cert_file: /etc/ssogate/admin-tls/tls.crt") {
			t.Errorf("TLS files not in the config:\n%s", cfg)
		}
	})

	// Bad values stop the render with a message naming the value.
	for _, bad := range []struct {
		name, want string
		set        []string
	}{
		{"no admin token", "adminToken", nil},
		{"sentinel without master", "redis.masterName", []string{"adminToken.value=x", "redis.mode=sentinel"}},
		{"unknown topology", "redis.mode", []string{"adminToken.value=x", "redis.mode=replicated"}},
		{"standalone with several addresses", "redis.mode standalone", []string{"adminToken.value=x", "redis.addrs={a:1,b:2}"}},
	} {
		t.Run("refuses "+bad.name, func(t *testing.T) {
			out, err := helmTemplate(t, helm, bad.set...)
			if err == nil || !strings.Contains(out, bad.want) {
				t.Fatalf("helm template with %v: err %v, want a message about %s:\n%s", bad.set, err, bad.want, out)
			}
		})
	}
}

// namedPort returns the container port named name, as a string.
func namedPort(t *testing.T, c obj, name string) string {
	t.Helper()
	for i := 0; ; i++ {
		p := c.get("ports", i)
		if p == nil {
			t.Fatalf("no container port named %s", name)
		}
		if po := asObj(p); po.str("name") == name {
			n, _ := po.get("containerPort").(int)
			return strconv.Itoa(n)
		}
	}
}

// podEnv resolves the container's environment, secretKeyRefs read from the rendered Secrets.
func podEnv(t *testing.T, c obj, secrets []obj) map[string]string {
	t.Helper()
	env := map[string]string{}
	for i := 0; c.get("env", i) != nil; i++ {
		e := asObj(c.get("env", i))
		if v, ok := e.get("value").(string); ok {
			env[e.str("name")] = v
			continue
		}
		name, key := e.str("valueFrom", "secretKeyRef", "name"), e.str("valueFrom", "secretKeyRef", "key")
		for _, s := range secrets {
			if s.str("metadata", "name") == name {
				raw, err := base64.StdEncoding.DecodeString(s.str("data", key))
				if err != nil {
					t.Fatalf("secret %s key %s: %v", name, key, err)
				}
				env[e.str("name")] = string(raw)
			}
		}
		if _, ok := env[e.str("name")]; !ok {
			t.Fatalf("env %s refers to secret %s key %s, which is not rendered", e.str("name"), name, key)
		}
	}
	return env
}

package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(*Config) // applied to Default()
	}{
		{
			name: "empty file keeps defaults",
			yaml: "",
			want: func(*Config) {},
		},
		{
			name: "top-level and nested keys",
			yaml: `
listen: ":8080"
admin_token: tok
log_format: text
username_case_insensitive: true
max_body_bytes: 1024
http:
  read_timeout: 20s
  trusted_proxies: [10.0.0.0/8, 127.0.0.1]
store:
  driver: redis
  redis_addrs:
    - r1:6379
    - r2:6379
  redis_db: 2
cache:
  stale_if_error: 30m
ratelimit:
  enabled: false
  user_failures: 5
`,
			want: func(c *Config) {
				c.Listen = ":8080"
				c.AdminToken = "tok"
				c.LogFormat = "text"
				c.UsernameCaseInsensitive = true
				c.MaxBodyBytes = 1024
				c.HTTP.ReadTimeout = 20 * time.Second
				c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1"}
				c.Store.Driver = DriverRedis
				c.Store.RedisAddrs = []string{"r1:6379", "r2:6379"}
				c.Store.RedisDB = 2
				c.Cache.StaleIfError = 30 * time.Minute
				c.RateLimit.Enabled = false
				c.RateLimit.UserFailures = 5
			},
		},
		{
			// SPEC section 5: a cluster PUT without "enabled" is enabled; the file follows suit.
			name: "clusters: enabled defaults to true, codes normalised",
			yaml: `
clusters:
  - code: test0525
    name: 测试用
    sso_url: http://a.example/sso
    server_url: http://a.example/server
  - code: BJEDU
    name: 北京市教委环境
    sso_url: https://b.example/sso
    server_url: https://b.example/server
    token_url: https://b.example/sso/oauth/token
    enabled: false
`,
			want: func(c *Config) {
				c.Clusters = Clusters{
					{Code: "TEST0525", Name: "测试用", SSOURL: "http://a.example/sso", ServerURL: "http://a.example/server", Enabled: true},
					{Code: "BJEDU", Name: "北京市教委环境", SSOURL: "https://b.example/sso", ServerURL: "https://b.example/server",
						TokenURL: "https://b.example/sso/oauth/token", Enabled: false},
				}
			},
		},
		{
			// A section whose keys are all commented out must not wipe its defaults.
			name: "null section keeps defaults",
			yaml: "cache:\n  # size: 5\nlisten: \":1\"\n",
			want: func(c *Config) { c.Listen = ":1" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeConfig(t, tt.yaml), nil)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want func(*Config)
	}{
		{name: "duration", env: []string{"SSOGATE_CACHE_STALE_IF_ERROR=30m"}, want: func(c *Config) { c.Cache.StaleIfError = 30 * time.Minute }},
		{name: "bool", env: []string{"SSOGATE_RATELIMIT_ENABLED=false"}, want: func(c *Config) { c.RateLimit.Enabled = false }},
		{name: "top-level bool", env: []string{"SSOGATE_USERNAME_CASE_INSENSITIVE=true"}, want: func(c *Config) { c.UsernameCaseInsensitive = true }},
		{name: "int", env: []string{"SSOGATE_SSO_MAX_IN_FLIGHT=64"}, want: func(c *Config) { c.SSO.MaxInFlight = 64 }},
		{name: "int64", env: []string{"SSOGATE_MAX_BODY_BYTES=2048"}, want: func(c *Config) { c.MaxBodyBytes = 2048 }},
		{name: "string", env: []string{"SSOGATE_ADMIN_TOKEN=s3cret"}, want: func(c *Config) { c.AdminToken = "s3cret" }},
		{
			name: "nested string and list, blanks dropped",
			env:  []string{"SSOGATE_STORE_DRIVER=redis", "SSOGATE_STORE_REDIS_ADDRS=a:1, b:2,,"},
			want: func(c *Config) { c.Store.Driver = DriverRedis; c.Store.RedisAddrs = []string{"a:1", "b:2"} },
		},
		{name: "empty list", env: []string{"SSOGATE_HTTP_TRUSTED_PROXIES="}, want: func(c *Config) { c.HTTP.TrustedProxies = nil }},
		{
			// SSOGATE_ADMIN_URL is the CLI's; typos are UnknownEnv's business, not an error.
			name: "unknown and foreign variables ignored",
			env:  []string{"SSOGATE_ADMIN_URL=http://x", "SSOGATE_NOPE=1", "PATH=/bin", "SSOGATE_LISTEN"},
			want: func(*Config) {},
		},
		{name: "later entry wins", env: []string{"SSOGATE_LISTEN=:1", "SSOGATE_LISTEN=:2"}, want: func(c *Config) { c.Listen = ":2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load("", tt.env)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestEnvBeatsFile(t *testing.T) {
	path := writeConfig(t, "store:\n  timeout: 2s\n  redis_prefix: \"file:\"\nlisten: \":7000\"\n")
	got, err := Load(path, []string{"SSOGATE_STORE_TIMEOUT=3s", "SSOGATE_LISTEN=:7001"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Store.Timeout != 3*time.Second || got.Listen != ":7001" || got.Store.RedisPrefix != "file:" {
		t.Errorf("got timeout %s listen %q prefix %q; want env over file, file over default",
			got.Store.Timeout, got.Listen, got.Store.RedisPrefix)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string // "" means no file
		env      []string
		wantKeys []string
		wantText []string
	}{
		{
			name:     "unknown keys at every depth, all at once",
			yaml:     "listen: \":1\"\nlistn: x\nstore:\n  drivr: redis\nclusters:\n  - code: A\n    nmae: x\n",
			wantKeys: []string{"listn", "store.drivr", "clusters[0].nmae"},
			wantText: []string{":2: listn: unknown key", ":4: store.drivr: unknown key", ":7: clusters[0].nmae: unknown key"},
		},
		{
			name:     "ill-typed values name their keys",
			yaml:     "store:\n  redis_db: abc\nsso:\n  timeout: 10\n",
			wantKeys: []string{"store.redis_db", "sso.timeout"},
		},
		{
			name:     "bad env values name variable and key",
			env:      []string{"SSOGATE_SSO_TIMEOUT=ten", "SSOGATE_RATELIMIT_ENABLED=maybe", "SSOGATE_CACHE_SIZE=1e9x"},
			wantKeys: []string{"cache.size", "sso.timeout", "ratelimit.enabled"},
			wantText: []string{"SSOGATE_SSO_TIMEOUT: sso.timeout: must be a duration", "SSOGATE_RATELIMIT_ENABLED: ratelimit.enabled: must be true or false"},
		},
		{
			// Issue 8 item 9: a value that parses but does not validate named only the key.
			name:     "env values that fail validation name the variable",
			env:      []string{"SSOGATE_SSO_TIMEOUT=0s", "SSOGATE_HTTP_TRUSTED_PROXIES=10.0.0.0/8,nope"},
			wantKeys: []string{"http.trusted_proxies[1]", "sso.timeout"},
			wantText: []string{"SSOGATE_SSO_TIMEOUT: sso.timeout: must be positive",
				"SSOGATE_HTTP_TRUSTED_PROXIES: http.trusted_proxies[1]: must be an IP address or a CIDR"},
		},
		{
			name:     "env and validation problems reported together",
			env:      []string{"SSOGATE_SSO_TIMEOUT=ten", "SSOGATE_STORE_DRIVER=mysql"},
			wantKeys: []string{"sso.timeout", "store.driver"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := Load(path, tt.env)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load() = %v, want ErrInvalid", err)
			}
			if got := errorKeys(t, err); !reflect.DeepEqual(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q\n%v", got, tt.wantKeys, err)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not contain %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestLoadFileProblems(t *testing.T) {
	tests := []struct {
		name string
		path string
		yaml string
		want string
	}{
		{name: "missing file", path: "/nonexistent/ssogate.yaml", want: "no such file"},
		{name: "syntax error", yaml: "listen: [\n", want: "ssogate.yaml"},
		{name: "two documents", yaml: "listen: \":1\"\n---\nlisten: \":2\"\n", want: "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := Load(path, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestUnknownEnv(t *testing.T) {
	env := []string{"SSOGATE_STORE_DRIVR=redis", "SSOGATE_ADMIN_URL=x", "SSOGATE_LISTEN=:1", "HOME=/", "SSOGATE_A=1", "SSOGATE_A=2"}
	want := []string{"SSOGATE_A", "SSOGATE_STORE_DRIVR"}
	if got := UnknownEnv(env); !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv() = %q, want %q", got, want)
	}
}

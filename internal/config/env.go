package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvPrefix starts every environment variable of the configuration. A key's variable is the
// prefix followed by the key's path, joined with "_" and upper-cased: store.redis_addrs is
// SSOGATE_STORE_REDIS_ADDRS (SPEC section 6).
const EnvPrefix = "SSOGATE_"

// nonConfigEnv are SSOGATE_* variables read by other parts of the program, not keys.
var nonConfigEnv = map[string]bool{
	"SSOGATE_ADMIN_URL": true, // the CLI's --admin-url (SPEC section 5)
}

// envVar is one key settable from the environment.
type envVar struct {
	name  string // SSOGATE_STORE_TIMEOUT
	key   string // store.timeout
	index []int  // reflect field path inside Config
}

var durationType = reflect.TypeFor[time.Duration]()

// envVars lists every leaf key of Config, walked from the yaml tags, so a new field is
// settable from the environment without further code. A field of a type the environment
// cannot express must be tagged env:"-"; otherwise the walk panics (and the tests catch it).
var envVars = sync.OnceValue(func() []envVar {
	var out []envVar
	var walk func(t reflect.Type, key string, index []int)
	walk = func(t reflect.Type, key string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || f.Tag.Get("env") == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if key != "" {
				name = key + "." + name
			}
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, name, idx)
				continue
			}
			if !envSettable(f.Type) {
				panic(fmt.Sprintf("config: key %s has type %s, which the environment cannot set; tag it env:\"-\"", name, f.Type))
			}
			out = append(out, envVar{
				name:  EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "_")),
				key:   name,
				index: idx,
			})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
})

func envSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// ApplyEnv overrides cfg with the SSOGATE_* entries of env ("NAME=value", as os.Environ
// returns them; a later entry for the same name wins). Lists are comma-separated, blanks
// dropped, so an empty value empties the list; durations are Go durations ("1s", "15m");
// booleans are strconv.ParseBool's. Every bad value is reported, naming the variable and the
// key. `clusters` cannot be set this way. SSOGATE_* names that are no key are ignored, since
// other parts of the program read some (SSOGATE_ADMIN_URL); UnknownEnv lists them for a warning.
func ApplyEnv(cfg *Config, env []string) error {
	vals := map[string]string{}
	for _, kv := range env {
		if name, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, EnvPrefix) {
			vals[name] = v
		}
	}
	if len(vals) == 0 {
		return nil
	}
	rv := reflect.ValueOf(cfg).Elem()
	var errs []error
	for _, ev := range envVars() {
		v, ok := vals[ev.name]
		if !ok {
			continue
		}
		if err := setString(rv.FieldByIndex(ev.index), v); err != nil {
			errs = append(errs, &FieldError{Source: ev.name, Key: ev.key, Msg: err.Error()})
		}
	}
	return errors.Join(errs...)
}

// UnknownEnv returns, sorted, the SSOGATE_* names in env that are neither a configuration key
// nor read elsewhere in the program: most likely typos, worth a warning at start.
func UnknownEnv(env []string) []string {
	known := map[string]bool{}
	for _, ev := range envVars() {
		known[ev.name] = true
	}
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !nonConfigEnv[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// setString parses s into the field f of one of the kinds envSettable accepts.
func setString(f reflect.Value, s string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be a duration such as \"1s\" or \"15m\", got %q", s)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s) // not trimmed: a password may hold any character
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", s)
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("must be a number, got %q", s)
		}
		f.SetFloat(x)
	case reflect.Slice:
		var list []string
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		f.Set(reflect.ValueOf(list).Convert(f.Type()))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// envKeys maps each key that env sets to the variable that sets it.
func envKeys(env []string) map[string]string {
	set := map[string]bool{}
	for _, kv := range env {
		if name, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, EnvPrefix) {
			set[name] = true
		}
	}
	out := map[string]string{}
	for _, ev := range envVars() {
		if set[ev.name] {
			out[ev.key] = ev.name
		}
	}
	return out
}

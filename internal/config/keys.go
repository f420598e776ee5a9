package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// configKey is one leaf key of Config as the file spells it ("sso.timeout"), including keys
// the environment cannot set (clusters).
type configKey struct {
	key   string
	index []int
}

// allKeys walks Config's yaml tags once. A struct is a section, any other field a key.
var allKeys = sync.OnceValue(func() []configKey {
	var out []configKey
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == reflect.TypeFor[Config]().PkgPath() {
				walk(f.Type, prefix+name+".", idx)
				continue
			}
			out = append(out, configKey{key: prefix + name, index: idx})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
})

// Keys returns every key of the configuration, dotted as in the file ("store.redis_addrs"),
// in the order of the Config struct.
func Keys() []string {
	out := make([]string, 0, len(allKeys()))
	for _, k := range allKeys() {
		out = append(out, k.key)
	}
	return out
}

// Changed returns the keys whose values differ between a and b, in the order of Keys. An
// empty list and an absent one are equal. Values are never returned: some are secrets.
func Changed(a, b Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for _, k := range allKeys() {
		if !sameValue(va.FieldByIndex(k.index), vb.FieldByIndex(k.index)) {
			out = append(out, k.key)
		}
	}
	return out
}

func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// CopyKey sets key in dst to its value in src (slices are shared, not copied). It panics on
// a key that Keys does not list: callers name keys in code, so that is a programming error.
func CopyKey(dst *Config, src Config, key string) {
	for _, k := range allKeys() {
		if k.key == key {
			reflect.ValueOf(dst).Elem().FieldByIndex(k.index).Set(reflect.ValueOf(src).FieldByIndex(k.index))
			return
		}
	}
	panic(fmt.Sprintf("config: CopyKey: unknown key %q", key))
}

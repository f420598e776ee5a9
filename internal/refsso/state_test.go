package refsso

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenMapBounded(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		expired int // tokens already expired when the live ones arrive
		live    int
		wantMax int
	}{
		{name: "expired go first", expired: 10, live: 9, wantMax: 10},
		// Live tokens alone overflow: arbitrary ones are forgotten rather than growing forever.
		{name: "live overflow", expired: 0, live: 1000, wantMax: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tokenMap{max: 10, m: map[string]grant{}}
			for i := range tt.expired {
				m.put(fmt.Sprint("old", i), grant{expires: now.Add(-time.Second)}, now)
			}
			for i := range tt.live {
				m.put(fmt.Sprint("new", i), grant{expires: now.Add(time.Hour)}, now)
			}
			if len(m.m) > tt.wantMax {
				t.Fatalf("%d tokens kept, want at most %d", len(m.m), tt.wantMax)
			}
			if tt.live < tt.wantMax {
				for i := range tt.live {
					if _, ok := m.m[fmt.Sprint("new", i)]; !ok {
						t.Fatalf("live token new%d evicted while expired ones could go", i)
					}
				}
			}
		})
	}
}

func TestCaptchaShape(t *testing.T) {
	lengths := map[int]bool{}
	for range 500 {
		c := newCaptcha()
		if !captchaRe.MatchString(c) {
			t.Fatalf("captcha %q is not 4-6 digits", c)
		}
		lengths[len(c)] = true
	}
	if len(lengths) != 3 {
		t.Fatalf("lengths seen %v, want 4, 5 and 6", lengths)
	}
}

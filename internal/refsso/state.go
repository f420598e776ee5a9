package refsso

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"
)

// grant is what a token stands for.
type grant struct {
	client, user string
	expires      time.Time
	// pair is, for a refresh token, the access token issued with it: refreshing revokes it, as
	// Spring's DefaultTokenServices does.
	pair string
}

// tokenMap is a map of live tokens bounded in size.
type tokenMap struct {
	max int
	m   map[string]grant
}

func (t *tokenMap) put(token string, g grant, now time.Time) {
	if len(t.m) >= t.max {
		t.prune(now)
	}
	t.m[token] = g
}

// prune drops expired tokens. When live ones alone still fill most of the map, arbitrary ones
// (map order is random) go too, down to 90%, so the O(n) sweep runs at most once per max/10
// insertions. A forgotten refresh token answers invalid_grant, which clients already handle by
// logging in again; growing without bound would be worse for a process left running.
func (t *tokenMap) prune(now time.Time) {
	for k, g := range t.m {
		if !now.Before(g.expires) {
			delete(t.m, k)
		}
	}
	target := t.max - t.max/10
	for k := range t.m {
		if len(t.m) < target {
			break
		}
		delete(t.m, k)
	}
}

// tokens holds every token this server issued. One mutex covers both maps so that a refresh
// token is spent exactly once even when presented twice at the same moment.
type tokens struct {
	mu      sync.Mutex
	access  tokenMap
	refresh tokenMap
}

func newTokens(max int) *tokens {
	return &tokens{
		access:  tokenMap{max: max, m: make(map[string]grant)},
		refresh: tokenMap{max: max, m: make(map[string]grant)},
	}
}

// issue creates an access and a refresh token for user on behalf of client.
func (t *tokens) issue(client, user string, now time.Time, accessTTL, refreshTTL time.Duration) (access, refresh string) {
	access, refresh = newUUID(), newUUID()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.access.put(access, grant{client: client, user: user, expires: now.Add(accessTTL)}, now)
	t.refresh.put(refresh, grant{client: client, user: user, expires: now.Add(refreshTTL), pair: access}, now)
	return access, refresh
}

// spend consumes a refresh token issued to client and revokes its access token. A token of
// another client is left alone: presenting it proves nothing about its rightful owner.
func (t *tokens) spend(refresh, client string, now time.Time) (user string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, found := t.refresh.m[refresh]
	if !found || g.client != client {
		return "", false
	}
	delete(t.refresh.m, refresh)
	delete(t.access.m, g.pair)
	if !now.Before(g.expires) {
		return "", false
	}
	return g.user, true
}

// lookup returns the grant of a live access token.
func (t *tokens) lookup(access string, now time.Time) (grant, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.access.m[access]
	if ok && !now.Before(g.expires) {
		delete(t.access.m, access)
		return grant{}, false
	}
	return g, ok
}

// loginState is kept for configured users only, so its map is bounded by Config.Users and
// probing unknown names costs no memory.
type loginState struct {
	failures int
	captcha  string
}

// logins tracks consecutive password failures and the captcha they lead to.
type logins struct {
	mu    sync.Mutex
	after int // failures before a captcha is needed; negative: never
	m     map[string]*loginState
}

func newLogins(after int) *logins {
	return &logins{after: after, m: make(map[string]*loginState)}
}

func (l *logins) state(user string) *loginState {
	s := l.m[user]
	if s == nil {
		s = &loginState{}
		l.m[user] = s
	}
	return s
}

func (l *logins) needsCaptcha(s *loginState) bool {
	return l.after >= 0 && s.failures >= l.after
}

// admit tells whether a password attempt for user may be checked. When the user needs a
// captcha, code must match it. A presented captcha is spent, right or wrong, so that each one
// answers a single guess and cannot be brute-forced.
func (l *logins) admit(user, code string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(user)
	if !l.needsCaptcha(s) {
		return true
	}
	if code == "" {
		return false
	}
	ok := s.captcha != "" && subtle.ConstantTimeCompare([]byte(code), []byte(s.captcha)) == 1
	s.captcha = newCaptcha()
	return ok
}

func (l *logins) failed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(user)
	s.failures++
	if l.needsCaptcha(s) && s.captcha == "" {
		s.captcha = newCaptcha()
	}
}

// succeeded resets the user's failures: the captcha is for consecutive failures only.
func (l *logins) succeeded(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, user)
}

// captcha returns the user's current captcha, creating one if none is pending, so an app may
// fetch it before or after the 2001 answer.
func (l *logins) captcha(user string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(user)
	if s.captcha == "" {
		s.captcha = newCaptcha()
	}
	return s.captcha
}

// newUUID returns a random (version 4) UUID, the shape of the seed's tokens.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newCaptcha returns 4 to 6 random decimal digits.
func newCaptcha() string {
	d := make([]byte, 4+randBelow(3))
	for i := range d {
		d[i] = '0' + randBelow(10)
	}
	return string(d)
}

// randBelow returns a uniform number in [0, n), rejecting the bytes that would bias the modulo.
func randBelow(n byte) byte {
	limit := 256 - 256%int(n)
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return b[0] % n
		}
	}
}

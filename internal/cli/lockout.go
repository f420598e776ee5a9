package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ssogate lockout get|clear (--user U | --ip IP) [--manager] (SPEC section 5 and 9), over
// GET and DELETE /admin/lockouts.
func init() {
	commands["lockout"] = map[string]command{
		"get":   {manager: true, lockout: true, run: lockoutGet},
		"clear": {manager: true, lockout: true, run: lockoutClear},
	}
}

const lockoutUsage = `  ssogate lockout get   (--user U | --ip IP) [--manager]
  ssogate lockout clear (--user U | --ip IP) [--manager]
`

// lockoutQuery is ?username=&client= or ?ip=, exactly one of --user and --ip.
func (f *flags) lockoutQuery() (url.Values, string, error) {
	if (f.user == "") == (f.ip == "") {
		return nil, "", usagef("give exactly one of --user and --ip")
	}
	if f.ip != "" {
		if f.manager {
			return nil, "", usagef("--manager applies to --user only")
		}
		return url.Values{"ip": {f.ip}}, "address " + f.ip, nil
	}
	q := f.query()
	q.Set("username", f.user)
	return q, f.user + " (" + f.namespaceLabel() + ")", nil
}

type lockoutAnswer struct {
	Failures    int64      `json:"failures"`
	InFlight    int64      `json:"in_flight"`
	Locked      bool       `json:"locked"`
	LockedUntil *time.Time `json:"locked_until"`
	Strikes     int64      `json:"strikes"`
}

func lockoutGet(c *client, f *flags, _ []string) error {
	q, what, err := f.lockoutQuery()
	if err != nil {
		return err
	}
	var a lockoutAnswer
	if err := c.getJSON("/admin/lockouts", q, &a); err != nil {
		return err
	}
	state := "not locked"
	if a.Locked && a.LockedUntil != nil {
		left := time.Until(*a.LockedUntil).Round(time.Second)
		state = fmt.Sprintf("locked until %s (%s left)", a.LockedUntil.Local().Format(time.RFC3339), max(left, 0))
	}
	fmt.Fprintf(c.out, "%s: %s\nfailures: %d\nin flight: %d\n", what, state, a.Failures, a.InFlight)
	if f.ip == "" {
		fmt.Fprintf(c.out, "strikes: %d\n", a.Strikes)
	}
	return nil
}

func lockoutClear(c *client, f *flags, _ []string) error {
	q, what, err := f.lockoutQuery()
	if err != nil {
		return err
	}
	if _, err := c.do(request{method: http.MethodDelete, path: "/admin/lockouts", query: q, contentLen: -1}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "cleared the failures and lock of %s\n", what)
	return nil
}

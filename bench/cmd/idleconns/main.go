// Command idleconns measures what idle keep-alive client connections cost a running gateway
// (SPEC section 7: 10,000 of them add at most 100 MiB of RSS). It reads the gateway's RSS
// from /proc/PID/status, opens N connections to the public listener, sends one request on each
// and reads its answer (so every connection has served a request and sits idle in keep-alive,
// as an app's pooled connection does), waits, reads the RSS again, and prints a BENCHJSON line.
// Loopback only; the connections are closed at the end.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type result struct {
	Conns       int     `json:"conns"`
	Failed      int     `json:"failed"`
	RSSBefore   float64 `json:"rss_before_mib"`
	RSSAfter    float64 `json:"rss_after_mib"`
	AnonBefore  float64 `json:"rss_anon_before_mib"`
	AnonAfter   float64 `json:"rss_anon_after_mib"`
	AddedMiB    float64 `json:"added_mib"`
	PerConnKiB  float64 `json:"per_conn_kib"`
	OpenSeconds float64 `json:"open_seconds"`
	// From the gateway's /metrics (--metrics), after: where the Go runtime holds the memory.
	StackMiB float64 `json:"go_stack_inuse_mib,omitempty"`
	HeapMiB  float64 `json:"go_heap_inuse_mib,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "the gateway's public listener (loopback)")
	pid := flag.Int("pid", 0, "the gateway's process id (its RSS is read)")
	n := flag.Int("n", 10000, "connections to open")
	body := flag.String("body", "grant_type=password&username=nobody&password=secret", "form body of the one request per connection")
	basic := flag.String("basic", "app:app-secret", "client_id:client_secret")
	metricsURL := flag.String("metrics", "", "the gateway's /metrics URL (optional): Go stack and heap in use are reported")
	settle := flag.Duration("settle", 3*time.Second, "wait after the last connection before reading the RSS")
	flag.Parse()
	if *pid <= 0 {
		fail(fmt.Errorf("--pid is required"))
	}
	raiseFileLimit()
	var r result
	r.RSSBefore, r.AnonBefore = rss(*pid)
	req := "POST /oauth/token HTTP/1.1\r\nHost: " + *addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(*basic)) + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(*body)) + "\r\n\r\n" + *body
	conns := make([]net.Conn, 0, *n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			r.Failed++
			continue
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			r.Failed++
			c.Close()
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			r.Failed++
			c.Close()
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			r.Failed++ // the gateway refused keep-alive: not an idle connection
			c.Close()
			continue
		}
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	r.OpenSeconds = time.Since(start).Seconds()
	r.Conns = len(conns)
	time.Sleep(*settle)
	r.RSSAfter, r.AnonAfter = rss(*pid)
	r.AddedMiB = r.RSSAfter - r.RSSBefore
	if *metricsURL != "" {
		r.StackMiB = metric(*metricsURL, "go_memstats_stack_inuse_bytes") / (1 << 20)
		r.HeapMiB = metric(*metricsURL, "go_memstats_heap_inuse_bytes") / (1 << 20)
	}
	if r.Conns > 0 {
		r.PerConnKiB = r.AddedMiB * 1024 / float64(r.Conns)
	}
	out, _ := json.Marshal(r)
	fmt.Printf("BENCHJSON %s\n", out)
}

// metric reads one unlabelled gauge from a Prometheus text page (0 when absent).
func metric(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(page), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// rss returns VmRSS and RssAnon of pid in MiB.
func rss(pid int) (total, anon float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fail(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			total = v / 1024
		case "RssAnon:":
			anon = v / 1024
		}
	}
	return total, anon
}

// raiseFileLimit lifts the soft open-file limit to the hard one: N sockets need N descriptors.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(1)
}

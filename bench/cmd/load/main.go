// Command load sends POST form requests to one URL and reports latency percentiles, in one of
// two modes:
//
//   - open loop (--rate): requests are released at a constant rate whatever the server does,
//     and each latency is measured from its release, so a stalled server shows up in the
//     percentiles instead of slowing the load down (no coordinated omission; wrk2 is not
//     packaged, wrk is closed-loop). Go timers wake about once a millisecond, so requests are
//     released in ~1 ms batches of rate/1000: a slightly burstier arrival than a perfect
//     schedule, the same for every target compared.
//   - closed loop (--total): exactly N requests, n = 0…N-1 substituted into the body, as fast
//     as --conns workers go; used to warm a cache with N distinct usernames and to time lookups
//     of a cold one.
//
// It prints one line "BENCHJSON {…}" on stdout for bench/cmd/benchrun.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

type options struct {
	url, basic, body, expect string
	users, start             int
	rate                     float64
	duration, warmup         time.Duration
	total                    int
	conns                    int
	timeout                  time.Duration
}

// Result is the BENCHJSON line.
type Result struct {
	Mode       string  `json:"mode"`
	Rate       float64 `json:"rate,omitempty"` // requested, open loop
	Requests   int     `json:"requests"`
	Seconds    float64 `json:"seconds"`
	Achieved   float64 `json:"achieved"` // requests per second completed
	P50us      float64 `json:"p50_us"`
	P90us      float64 `json:"p90_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	Errors     int64   `json:"errors"`     // transport errors and timeouts
	Unexpected int64   `json:"unexpected"` // non-2xx, or a body without --expect
	Dropped    int64   `json:"dropped"`    // releases the workers could not take (loader saturated)
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "target URL (http, loopback)")
	flag.StringVar(&o.basic, "basic", "", "client_id:client_secret sent as HTTP Basic")
	flag.StringVar(&o.body, "body", "", "form body; {n} is replaced by the request's number")
	flag.StringVar(&o.expect, "expect", "", "substring every answer body must contain")
	flag.IntVar(&o.users, "users", 0, "open loop: {n} cycles over start…start+users-1 (0: n counts up)")
	flag.IntVar(&o.start, "start", 0, "first n")
	flag.Float64Var(&o.rate, "rate", 0, "open loop: requests per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "open loop: measured time")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "open loop: unmeasured time at the same rate first")
	flag.IntVar(&o.total, "total", 0, "closed loop: number of requests (n = start…start+total-1)")
	flag.IntVar(&o.conns, "conns", 64, "connections (one worker each)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-request timeout")
	flag.Parse()
	if o.url == "" || (o.rate <= 0) == (o.total <= 0) {
		fmt.Fprintln(os.Stderr, "load: need --url and exactly one of --rate or --total")
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("BENCHJSON %s\n", out)
}

type job struct {
	n        int
	released time.Time
	measured bool
}

type worker struct {
	lat []time.Duration
}

func run(o options) (*Result, error) {
	uri := fasthttp.AcquireURI()
	if err := uri.Parse(nil, []byte(o.url)); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	client := &fasthttp.HostClient{
		Addr: string(uri.Host()), MaxConns: o.conns, ReadTimeout: o.timeout, WriteTimeout: o.timeout,
		MaxIdemponentCallAttempts: 1, NoDefaultUserAgentHeader: true,
	}
	auth := ""
	if o.basic != "" {
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(o.basic))
	}
	pre, post, templated := strings.Cut(o.body, "{n}")
	expect := []byte(o.expect)

	var errs, unexpected, dropped atomic.Int64
	queue := 1 << 16 // open loop: releases wait here for a free worker, and that wait counts
	if o.total > 0 {
		queue = 0
	}
	jobs := make(chan job, queue)
	workers := make([]*worker, o.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			buf := make([]byte, 0, len(o.body)+16)
			for j := range jobs {
				req.Reset()
				req.SetRequestURI(o.url)
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/x-www-form-urlencoded")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				buf = buf[:0]
				buf = append(buf, pre...)
				if templated {
					buf = strconv.AppendInt(buf, int64(j.n), 10)
					buf = append(buf, post...)
				}
				req.SetBody(buf)
				if j.released.IsZero() { // closed loop: time the request alone
					j.released = time.Now()
				}
				err := client.DoTimeout(req, resp, o.timeout)
				lat := time.Since(j.released)
				switch {
				case err != nil:
					errs.Add(1)
				case resp.StatusCode() < 200 || resp.StatusCode() > 299,
					len(expect) > 0 && !bytes.Contains(resp.Body(), expect):
					unexpected.Add(1)
				}
				if j.measured {
					w.lat = append(w.lat, lat)
				}
			}
		}()
	}

	res := &Result{}
	var began time.Time
	if o.total > 0 {
		res.Mode = "closed"
		began = time.Now()
		for i := 0; i < o.total; i++ {
			jobs <- job{n: o.start + i, measured: true}
		}
	} else {
		res.Mode, res.Rate = "open", o.rate
		began = release(o, jobs, &dropped)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(began)

	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p / 100 * float64(len(all)))
		return float64(all[min(i, len(all)-1)].Nanoseconds()) / 1e3
	}
	res.Requests = len(all)
	res.Seconds = elapsed.Seconds()
	if o.total <= 0 {
		res.Seconds = o.duration.Seconds()
	}
	res.Achieved = float64(res.Requests) / res.Seconds
	res.P50us, res.P90us, res.P99us, res.P999us, res.MaxUs = pct(50), pct(90), pct(99), pct(99.9), pct(100)
	res.Errors, res.Unexpected, res.Dropped = errs.Load(), unexpected.Load(), dropped.Load()
	if res.Requests == 0 {
		return res, errors.New("no request completed")
	}
	return res, nil
}

// release puts jobs on the queue at o.rate for warmup+duration and returns when the measured
// part began. Requests due since the last wake-up are released together.
func release(o options, jobs chan<- job, dropped *atomic.Int64) time.Time {
	interval := float64(time.Second) / o.rate
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	i := 0
	n := 0
	for {
		now := time.Now()
		if !now.Before(end) {
			return measureFrom
		}
		due := int(float64(now.Sub(start)) / interval)
		for ; i <= due; i++ {
			k := o.start + n
			n++
			if o.users > 0 {
				k = o.start + (n-1)%o.users
			}
			select {
			case jobs <- job{n: k, released: now, measured: !now.Before(measureFrom)}:
			default:
				dropped.Add(1)
			}
		}
		next := start.Add(time.Duration(float64(i) * interval))
		time.Sleep(time.Until(next))
	}
}

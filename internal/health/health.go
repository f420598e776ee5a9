package health

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Window is how far back the figures reach; it is split into slots of slotWidth, the ring.
const (
	Window    = 5 * time.Minute
	slotWidth = 10 * time.Second
	slots     = int(Window / slotWidth)
)

// Latency buckets: upper bounds growing by ~26% (10^0.1), from 1 ms to ~60 s, so a p95 read
// from them is within one bucket's width of the exact figure.
var bucketBounds = func() []time.Duration {
	var b []time.Duration
	for v := 1.0; v < 60_000; v *= math.Pow(10, 0.1) {
		b = append(b, time.Duration(v*float64(time.Millisecond)))
	}
	return b
}()

// slot holds the counts of one slotWidth. epoch says which slot of time it holds; a writer
// that finds an old epoch resets the slot first.
type slot struct {
	epoch    atomic.Int64
	requests atomic.Uint64
	code1002 atomic.Uint64
	ssoCalls atomic.Uint64
	latency  []atomic.Uint64 // per bucketBounds, plus one for slower
}

type cluster struct {
	ring [slots]slot
	mu   sync.Mutex // serialises slot resets, taken once per slotWidth at most

	breaker      atomic.Value // string
	breakerSince atomic.Int64 // Unix ns
	lastError    atomic.Value // string
	lastErrorAt  atomic.Int64
}

// Tracker holds every cluster's figures. It is safe for concurrent use; the methods called on
// the login path (Answered, ObserveSSO) take no lock but once per slot.
type Tracker struct {
	clusters sync.Map // code → *cluster
	now      func() time.Time
	start    time.Time
}

// New returns an empty Tracker.
func New() *Tracker { return &Tracker{now: time.Now, start: time.Now()} }

func (t *Tracker) cluster(code string) *cluster {
	if c, ok := t.clusters.Load(code); ok {
		return c.(*cluster)
	}
	c := &cluster{}
	for i := range c.ring {
		c.ring[i].latency = make([]atomic.Uint64, len(bucketBounds)+1)
		c.ring[i].epoch.Store(-1)
	}
	c.breaker.Store("")
	c.lastError.Store("")
	got, _ := t.clusters.LoadOrStore(code, c)
	return got.(*cluster)
}

// current returns the slot for now, reset if it still held an older period.
func (c *cluster) current(now time.Time) *slot {
	epoch := now.UnixNano() / int64(slotWidth)
	s := &c.ring[epoch%int64(slots)]
	if s.epoch.Load() != epoch {
		c.mu.Lock()
		if s.epoch.Load() != epoch {
			s.requests.Store(0)
			s.code1002.Store(0)
			s.ssoCalls.Store(0)
			for i := range s.latency {
				s.latency[i].Store(0)
			}
			s.epoch.Store(epoch)
		}
		c.mu.Unlock()
	}
	return s
}

// Answered counts one answer of the token endpoint (it has tokenapi.Recorder's shape).
// Answers without a cluster (an unknown user, a bad request) are not any cluster's figures.
func (t *Tracker) Answered(code int, clusterCode string, _ time.Duration) {
	if clusterCode == "" {
		return
	}
	s := t.cluster(clusterCode).current(t.now())
	s.requests.Add(1)
	if code == 1002 {
		s.code1002.Add(1)
	}
}

// ObserveSSO records one exchange with a cluster's SSO (the forwarder's Observe callback):
// status 0 means no answer.
func (t *Tracker) ObserveSSO(clusterCode string, status int, elapsed time.Duration) {
	c := t.cluster(clusterCode)
	now := t.now()
	s := c.current(now)
	s.ssoCalls.Add(1)
	i := sort.Search(len(bucketBounds), func(i int) bool { return bucketBounds[i] >= elapsed })
	s.latency[i].Add(1)
	switch {
	case status == 0:
		c.setError(now, "no answer (timeout, refused or circuit open)")
	case status >= 500:
		c.setError(now, "HTTP "+itoa(status))
	}
}

func (c *cluster) setError(now time.Time, msg string) {
	c.lastError.Store(msg)
	c.lastErrorAt.Store(now.UnixNano())
}

// BreakerChanged records a breaker's new state (the forwarder's OnBreakerChange callback).
func (t *Tracker) BreakerChanged(clusterCode, _, to string) {
	c := t.cluster(clusterCode)
	c.breaker.Store(to)
	c.breakerSince.Store(t.now().UnixNano())
}

// Figures are one cluster's live figures.
type Figures struct {
	// Breaker is "closed", "half-open", "open", or "" before the first call to its SSO.
	Breaker      string
	BreakerSince time.Time // zero: never changed since start
	LastError    string
	LastErrorAt  time.Time
	// Over the last Window:
	Requests   uint64
	RequestsPS float64
	Share1002  float64 // 0..1; 0 without requests
	SSOCalls   uint64
	SSOP95     time.Duration // 0 without calls
}

// Figures returns a cluster's figures now.
func (t *Tracker) Figures(clusterCode string) Figures {
	v, ok := t.clusters.Load(clusterCode)
	if !ok {
		return Figures{}
	}
	c := v.(*cluster)
	now := t.now()
	f := Figures{Breaker: c.breaker.Load().(string), LastError: c.lastError.Load().(string)}
	if ns := c.breakerSince.Load(); ns != 0 {
		f.BreakerSince = time.Unix(0, ns)
	}
	if ns := c.lastErrorAt.Load(); ns != 0 {
		f.LastErrorAt = time.Unix(0, ns)
	}
	newest := now.UnixNano() / int64(slotWidth)
	hist := make([]uint64, len(bucketBounds)+1)
	var code1002 uint64
	for i := range c.ring {
		s := &c.ring[i]
		if e := s.epoch.Load(); e < 0 || e <= newest-int64(slots) || e > newest {
			continue
		}
		f.Requests += s.requests.Load()
		code1002 += s.code1002.Load()
		f.SSOCalls += s.ssoCalls.Load()
		for j := range hist {
			hist[j] += s.latency[j].Load()
		}
	}
	// Before the process has run for Window, the rate is over the time it has run.
	covered := min(Window, max(now.Sub(t.start), time.Second))
	f.RequestsPS = float64(f.Requests) / covered.Seconds()
	if f.Requests > 0 {
		f.Share1002 = float64(code1002) / float64(f.Requests)
	}
	f.SSOP95 = percentile(hist, 0.95)
	return f
}

// percentile returns the upper bound of the bucket holding the p-th observation.
func percentile(hist []uint64, p float64) time.Duration {
	var total uint64
	for _, n := range hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p * float64(total)))
	var seen uint64
	for i, n := range hist {
		seen += n
		if seen >= rank {
			if i < len(bucketBounds) {
				return bucketBounds[i]
			}
			return time.Minute
		}
	}
	return time.Minute
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n > 0 && i > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

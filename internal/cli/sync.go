package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// progressAfter is the size from which user sync reports its upload's progress on stderr.
const progressAfter = 1 << 20

// userSync streams the complete list to the reconcile (SPEC section 8) and prints the diff:
// counts, samples and rejected lines. The file is sent as it is read, never held in memory.
func userSync(c *client, f *flags, pos []string) error {
	q := f.query()
	if f.dryRun {
		q.Set("dry_run", "true")
	}
	if f.maxRemovals != "" {
		n, err := strconv.ParseInt(f.maxRemovals, 10, 64)
		if err != nil || n < -1 {
			return usagef("--max-removals %q: a non-negative number, or -1 for no limit", f.maxRemovals)
		}
		q.Set("max_removals", f.maxRemovals)
	}
	var body io.Reader
	size := int64(-1)
	if pos[1] == "-" {
		body = io.NopCloser(stdin)
	} else {
		file, err := os.Open(pos[1])
		if err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		body = file
	}
	var prog *progress
	if c.errOut != nil && (size < 0 || size >= progressAfter) {
		prog = &progress{r: body, total: size, w: c.errOut}
		body = prog
		stop := prog.start()
		defer stop()
	}
	var res struct {
		Added         int64    `json:"added"`
		Removed       int64    `json:"removed"`
		Unchanged     int64    `json:"unchanged"`
		DryRun        bool     `json:"dry_run"`
		SampleAdded   []string `json:"sample_added"`
		SampleRemoved []string `json:"sample_removed"`
		RejectedCount int64    `json:"rejected_count"`
		Rejected      []struct {
			Line   int64  `json:"line"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	_, err := c.do(request{method: http.MethodPut, path: "/admin/clusters/" + seg(pos[0]) + "/users",
		query: q, body: body, contentType: "text/plain; charset=utf-8", contentLen: size, noTimeout: true}, &res)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		if ae, ok := err.(*apiError); ok && ae.Code == "too_many_removals" && c.errOut != nil {
			fmt.Fprintln(c.errOut, "hint: run with --dry-run to see the removals, or raise --max-removals (-1: no limit)")
		}
		return err
	}
	verb := map[bool]string{true: "would be", false: "were"}[res.DryRun]
	fmt.Fprintf(c.out, "%s (%s): %d added, %d removed, %d unchanged; %d line(s) rejected", pos[0], f.namespaceLabel(),
		res.Added, res.Removed, res.Unchanged, max(res.RejectedCount, int64(len(res.Rejected))))
	if res.DryRun {
		fmt.Fprint(c.out, " (dry run: nothing changed)")
	}
	fmt.Fprintln(c.out)
	printSample(c.out, "added", verb, res.SampleAdded, res.Added)
	printSample(c.out, "removed", verb, res.SampleRemoved, res.Removed)
	for _, r := range res.Rejected {
		fmt.Fprintf(c.out, "  line %d: %s\n", r.Line, r.Reason)
	}
	if more := res.RejectedCount - int64(len(res.Rejected)); more > 0 {
		fmt.Fprintf(c.out, "  … and %d more rejected line(s)\n", more)
	}
	return nil
}

func printSample(w io.Writer, what, verb string, names []string, total int64) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(w, "%s %s", what, verb)
	if int64(len(names)) < total {
		fmt.Fprintf(w, " (first %d of %d)", len(names), total)
	}
	fmt.Fprintln(w, ":")
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// progress counts the bytes read and prints them every second on stderr.
type progress struct {
	r     io.Reader
	total int64
	n     atomic.Int64
	w     io.Writer
	done  chan struct{}
	ended chan struct{} // closed when the ticker goroutine has returned
	once  atomic.Bool
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

func (p *progress) start() func() {
	p.done, p.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.ended)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p.finish
}

func (p *progress) print() {
	sent := p.n.Load()
	if p.total > 0 {
		fmt.Fprintf(p.w, "\rsent %.1f of %.1f MiB (%d%%)", mib(sent), mib(p.total), sent*100/p.total)
	} else {
		fmt.Fprintf(p.w, "\rsent %.1f MiB", mib(sent))
	}
}

func (p *progress) finish() {
	if p.once.Swap(true) {
		return
	}
	close(p.done)
	<-p.ended // the last tick's line is written; no two writers on stderr
	p.print()
	fmt.Fprintln(p.w, " — done, waiting for the reconcile")
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

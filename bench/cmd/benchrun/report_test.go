package main

import (
	"math"
	"testing"
)

func rates(v ...float64) *measured {
	m := &measured{t: &target{label: "x"}}
	for _, r := range v {
		m.samples = append(m.samples, sample{RPS: r})
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// A round's targets run back to back: the ratio is taken within each round, then the median
// of those, so a host that drifts between rounds does not pair one target's fast round with
// another's slow one.
func TestPairedRatioIsTheMedianOfEachRoundsRatio(t *testing.T) {
	base, m := rates(100, 200, 60), rates(95, 110, 190)
	got, lo, hi := pairedRatio(m, base)
	if !near(got, 0.95) || !near(lo, 0.55) || !near(hi, 190.0/60) {
		t.Fatalf("pairedRatio = %v (%v–%v), want 0.95 (0.55–3.17)", got, lo, hi)
	}
	if medians := m.rps() / base.rps(); near(medians, got) {
		t.Fatalf("the case does not tell the two apart: ratio of medians %v", medians)
	}
	// Without one sample of each per round, it falls back to the ratio of the medians.
	got, lo, hi = pairedRatio(rates(90, 100), base)
	if want := 95.0 / 100; !near(got, want) || lo != got || hi != got {
		t.Fatalf("unpaired: %v (%v–%v), want %v", got, lo, hi, want)
	}
}

// The p99 added is also taken round by round.
func TestAddedP99IsTheMedianOfEachRoundsDifference(t *testing.T) {
	p99s := func(v ...float64) *measured {
		m := &measured{t: &target{label: "x"}}
		for _, p := range v {
			m.samples = append(m.samples, sample{P99us: p})
		}
		return m
	}
	base, m := p99s(500, 3000, 800), p99s(1500, 3500, 9000)
	got, lo, hi, ok := perRound(m, base, func(a, b sample) float64 { return a.P99us - b.P99us })
	if !ok || !near(got, 1000) || !near(lo, 500) || !near(hi, 8200) {
		t.Fatalf("perRound = %v (%v–%v, %v), want 1000 (500–8200)", got, lo, hi, ok)
	}
}

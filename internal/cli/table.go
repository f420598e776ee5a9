package cli

import (
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
)

// width is the number of terminal columns a string takes: a CJK character takes two, a
// combining mark none. text/tabwriter counts runes, so a column holding 北京市教委环境 came out
// seven columns short (issue 8 item 9). East Asian ambiguous characters count as one, the
// width they have outside CJK locales, so the output does not depend on the environment.
var width = (&runewidth.Condition{EastAsianWidth: false}).StringWidth

// table aligns columns by display width. Every cell but a row's last is padded to its
// column's widest cell plus gap spaces; the last is written as it is (no trailing blanks).
type table struct {
	out  io.Writer
	gap  int
	rows [][]string
}

func newTable(out io.Writer, gap int) *table { return &table{out: out, gap: gap} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// flush writes the rows.
func (t *table) flush() error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(r)-1 {
				break // the last cell is not padded, so it does not widen its column
			}
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], width(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-width(c)+t.gap))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}

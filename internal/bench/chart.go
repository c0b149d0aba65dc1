package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart colors: Squall stands out, the baselines are muted.
var (
	squallColor   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	squallLight   = color.RGBA{R: 0x9e, G: 0xc7, B: 0xe6, A: 0xff}
	baselineColor = color.RGBA{R: 0x8c, G: 0x8c, B: 0x8c, A: 0xff}
	baselineLight = color.RGBA{R: 0xcf, G: 0xcf, B: 0xcf, A: 0xff}
)

// chartRow is one bar (or pair of bars) of a chart.
type chartRow struct {
	label    string
	baseline bool
	vals     []float64 // one per series
}

// rows lists the scenario's rows for a chart, top to bottom, labelled by
// case and system.
func (s *ScenarioResult) chartRows(vals func(*Row) []float64) []chartRow {
	var out []chartRow
	for _, c := range s.Cases {
		for _, r := range c.Rows {
			label := r.System
			if len(s.Cases) > 1 {
				label = c.Name + ": " + r.System
			}
			out = append(out, chartRow{label: label, baseline: r.Baseline, vals: vals(r)})
		}
	}
	return out
}

func (s *ScenarioResult) throughputChart(w io.Writer) error {
	unit := s.Unit
	if s.ChartMetric != "" {
		unit = s.ChartMetric
	}
	rows := s.chartRows(func(r *Row) []float64 {
		if s.ChartMetric != "" {
			return []float64{metric(r.Extra, s.ChartMetric)}
		}
		return []float64{r.Throughput}
	})
	return hbarChart(w, s.Title+": throughput", unit+" (higher is better)", rows, []string{unit}, fmtNum, false)
}

func (s *ScenarioResult) latencyChart(w io.Writer) error {
	rows := s.chartRows(func(r *Row) []float64 { return []float64{r.P50Ms, r.P99Ms} })
	return hbarChart(w, s.Title+": latency", "milliseconds, log scale (lower is better)", rows, []string{"p50", "p99"}, fmtMs, true)
}

// hbarChart draws horizontal bars, one group per row (the first row at
// the top), one bar per series in a group, each labelled with its value,
// and writes the chart as a PNG. With logScale the value axis is
// logarithmic: latencies span orders of magnitude, and on a linear axis a
// slow system's p99 flattens every other bar.
func hbarChart(w io.Writer, title, xlabel string, rows []chartRow, series []string, format func(float64) string, logScale bool) error {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = xlabel
	p.X.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid()) // first, so the bars are drawn over it
	n := len(rows)
	// Points per unit of the Y axis: what a bar's offset (in points)
	// is in the labels' data coordinates.
	unit := float64(rowHeight)
	barW := vg.Points(28 / float64(len(series)))
	var maxVal float64
	minVal := math.Inf(1)
	labels := make([]string, n)
	var lxy plotter.XYs
	var ltext []string
	for i, r := range rows {
		y := float64(n - 1 - i) // first row on top
		// A leading space: gonum measures the labels a little narrower
		// than it draws them, which cut their first letter.
		labels[n-1-i] = " " + r.label
		for k, v := range r.vals {
			if v == 0 {
				continue
			}
			maxVal, minVal = max(maxVal, v), min(minVal, v)
			bars, err := plotter.NewBarChart(plotter.Values{v}, barW)
			if err != nil {
				return fmt.Errorf("bench: chart %q: %w", title, err)
			}
			bars.Horizontal = true
			bars.XMin = y
			bars.Offset = barW * vg.Length(float64(len(series)-1-k)-float64(len(series)-1)/2)
			bars.LineStyle.Width = 0
			bars.Color = barColor(r.baseline, k, len(series))
			p.Add(bars)
			lxy = append(lxy, plotter.XY{X: v, Y: y + float64(bars.Offset)/unit})
			ltext = append(ltext, " "+format(v))
		}
	}
	if len(series) > 1 {
		for k, name := range series {
			sw, err := plotter.NewBarChart(plotter.Values{0}, barW)
			if err != nil {
				return err
			}
			sw.Color = barColor(false, k, len(series))
			p.Legend.Add("Squall "+name, sw)
			bw, err := plotter.NewBarChart(plotter.Values{0}, barW)
			if err != nil {
				return err
			}
			bw.Color = barColor(true, k, len(series))
			p.Legend.Add("baseline "+name, bw)
		}
	}
	if len(lxy) > 0 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: lxy, Labels: ltext})
		if err != nil {
			return fmt.Errorf("bench: chart %q: %w", title, err)
		}
		for i := range l.TextStyle {
			l.TextStyle[i].YAlign = draw.YCenter
			l.TextStyle[i].Font.Size = vg.Points(9)
		}
		p.Add(l)
	}
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	// Room on the right for the value labels and the legend.
	p.X.Max = maxVal * 1.35
	if maxVal == 0 {
		p.X.Max = 1
	}
	p.X.Tick.Marker = valueTicks{format: format, inner: plot.DefaultTicks{}}
	if logScale && maxVal > 0 {
		// From the power of ten below the smallest bar; bars start there.
		p.X.Min = math.Pow(10, math.Floor(math.Log10(minVal)))
		p.X.Max = maxVal * 4
		p.X.Scale = clampedLog{}
		p.X.Tick.Marker = valueTicks{format: format, inner: plot.LogTicks{Prec: -1}}
	}
	p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
	height := chromeHeight + vg.Length(n)*rowHeight
	wt, err := p.WriterTo(9*vg.Inch, height, "png")
	if err != nil {
		return fmt.Errorf("bench: chart %q: %w", title, err)
	}
	_, err = wt.WriteTo(w)
	return err
}

// The chart's layout: each row gets rowHeight; the title, the axis and
// its label take chromeHeight.
const (
	rowHeight    = vg.Length(44)
	chromeHeight = vg.Length(80)
)

// valueTicks labels an axis with inner's ticks, formatted as the bars'
// labels are.
type valueTicks struct {
	format func(float64) string
	inner  plot.Ticker
}

func (t valueTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := t.inner.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = t.format(ticks[i].Value)
			if ticks[i].Value == 0 {
				ticks[i].Label = "0"
			}
		}
	}
	return ticks
}

// clampedLog is a logarithmic scale on which values below the axis'
// minimum (a bar's base, 0) sit at the minimum instead of being undefined.
type clampedLog struct{}

func (clampedLog) Normalize(lo, hi, x float64) float64 {
	x = max(x, lo)
	return (math.Log(x) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
}

func barColor(baseline bool, series, nseries int) color.Color {
	light := nseries > 1 && series == 0
	switch {
	case baseline && light:
		return baselineLight
	case baseline:
		return baselineColor
	case light:
		return squallLight
	}
	return squallColor
}

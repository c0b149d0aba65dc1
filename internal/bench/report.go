package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is the outcome of one run of the harness: every number and
// every ratio in it comes from that run.
type Report struct {
	Started  time.Time `json:"started"`
	Duration float64   `json:"durationSeconds"`
	Mode     string    `json:"mode"` // "short" or "full"
	Commit   string    `json:"commit,omitempty"`
	Machine  Machine   `json:"machine"`
	// Scenarios in the order they ran.
	Scenarios []*ScenarioResult `json:"scenarios"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int     `json:"cpus"`
	CPUModel   string  `json:"cpuModel,omitempty"`
	MemoryGiB  float64 `json:"memoryGiB,omitempty"`
	Kernel     string  `json:"kernel,omitempty"`
	GoVersion  string  `json:"goVersion"`
	Redis      string  `json:"redis,omitempty"`
	LoadBefore string  `json:"loadBefore,omitempty"`
	LoadAfter  string  `json:"loadAfter,omitempty"`
}

// ScenarioResult is one scenario's measurements: one or more cases (the
// fanout has one per follower count), each comparing Squall's rows with
// the baselines'.
type ScenarioResult struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Method says what was measured and how, in a sentence or two.
	Method string `json:"method"`
	// Unit is the throughput's unit ("appends/s").
	Unit string `json:"unit"`
	// ChartMetric, when set, names the extra metric the throughput chart
	// shows instead (the fanout's cases compare in timeline writes/s).
	ChartMetric string  `json:"chartMetric,omitempty"`
	Cases       []*Case `json:"cases"`
	// Notes are things a reader must know: languages skipped, and why.
	Notes []string `json:"notes,omitempty"`
}

// Case is one setting of a scenario.
type Case struct {
	Name string `json:"name"`
	Rows []*Row `json:"rows"`
}

// Row is one system's measurement in a case.
type Row struct {
	System   string `json:"system"`
	Baseline bool   `json:"baseline"`
	// Ops is the number of operations (or events) Throughput counts, over
	// Seconds.
	Ops        int     `json:"ops"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	// Extra throughputs in other units ("timeline writes/s").
	Extra []Metric `json:"extra,omitempty"`
	// P50Ms and P99Ms are the latency percentiles in milliseconds (0 when
	// the scenario measures none); LatencyOps is how many operations
	// they summarize.
	P50Ms      float64 `json:"p50Ms,omitempty"`
	P99Ms      float64 `json:"p99Ms,omitempty"`
	LatencyOps int     `json:"latencyOps,omitempty"`
	// CPUSeconds is the CPU time of the system's processes during the
	// measurement; PeakRSSBytes the sum of their peak resident sets.
	CPUSeconds   float64     `json:"cpuSeconds"`
	PeakRSSBytes int64       `json:"peakRssBytes"`
	Procs        []ProcUsage `json:"processes"`
	Note         string      `json:"note,omitempty"`
	// Ratios compare this row with each baseline of its case (Squall rows
	// only).
	Ratios []Ratio `json:"ratios,omitempty"`
}

// Metric is a named value.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// ProcUsage is one process's share of a row's resources.
type ProcUsage struct {
	Name         string  `json:"name"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
}

// Ratio compares a row with one baseline: Throughput is row/baseline (above
// 1: the row is faster), P99 is row/baseline (above 1: the row is
// slower), CPUPerOp is row/baseline (above 1: the row spends more CPU per
// operation). A ratio that cannot be computed is 0.
type Ratio struct {
	Baseline   string  `json:"baseline"`
	Throughput float64 `json:"throughput"`
	P99        float64 `json:"p99,omitempty"`
	CPUPerOp   float64 `json:"cpuPerOp,omitempty"`
}

// CPUPerOpMicros is the row's CPU time per operation in microseconds.
func (r *Row) CPUPerOpMicros() float64 {
	if r.Ops == 0 {
		return 0
	}
	return r.CPUSeconds * 1e6 / float64(r.Ops)
}

// computeRatios fills the ratios of every non-baseline row of every case.
func (s *ScenarioResult) computeRatios() {
	div := func(a, b float64) float64 {
		if b == 0 || a == 0 {
			return 0
		}
		return a / b
	}
	for _, c := range s.Cases {
		for _, r := range c.Rows {
			r.Ratios = nil
			if r.Baseline {
				continue
			}
			for _, b := range c.Rows {
				if !b.Baseline {
					continue
				}
				r.Ratios = append(r.Ratios, Ratio{Baseline: b.System,
					Throughput: div(r.Throughput, b.Throughput),
					P99:        div(r.P99Ms, b.P99Ms),
					CPUPerOp:   div(r.CPUPerOpMicros(), b.CPUPerOpMicros())})
			}
		}
	}
}

// ReadReport reads a report [Report.WriteJSON] wrote, to render it again
// (after a change to the tables or charts) without running anything.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: %s is not a report of squall bench: %w", path, err)
	}
	if len(r.Scenarios) == 0 {
		return nil, fmt.Errorf("bench: %s holds no scenario", path)
	}
	return &r, nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report's tables: per scenario, a table per
// case, the ratios to the baselines, and links to the charts in chartDir
// (a path relative to where the Markdown goes; empty: the same folder).
func (r *Report) WriteMarkdown(w io.Writer, chartDir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- written by `squall bench`; do not edit: run it again -->\n\n")
	fmt.Fprintf(&b, "Run %s (%s mode, %s), commit `%s`, %d CPUs (%s), %.0f GiB, %s, %s. Load average %s before, %s after.\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Mode, fmtSeconds(r.Duration), orDash(r.Commit), r.Machine.CPUs,
		orDash(r.Machine.CPUModel), r.Machine.MemoryGiB, orDash(r.Machine.Kernel), r.Machine.GoVersion,
		orDash(r.Machine.LoadBefore), orDash(r.Machine.LoadAfter))
	if r.Machine.Redis != "" {
		fmt.Fprintf(&b, "Redis: %s.\n", r.Machine.Redis)
	}
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "\n### %s (`%s`)\n\n%s\n", s.Title, s.Name, s.Method)
		lat := s.hasLatency()
		for _, c := range s.Cases {
			if len(s.Cases) > 1 || c.Name != "" {
				fmt.Fprintf(&b, "\n**%s**\n", c.Name)
			}
			b.WriteString("\n| system | " + s.Unit)
			for _, e := range extraNames(c) {
				b.WriteString(" | " + e)
			}
			if lat {
				b.WriteString(" | p50 | p99")
			}
			b.WriteString(" | CPU s | CPU µs/op | peak RSS |\n|---|---:")
			for range extraNames(c) {
				b.WriteString("|---:")
			}
			if lat {
				b.WriteString("|---:|---:")
			}
			b.WriteString("|---:|---:|---:|\n")
			for _, row := range c.Rows {
				name := row.System
				if !row.Baseline {
					name = "**" + name + "**"
				}
				fmt.Fprintf(&b, "| %s | %s", name, fmtNum(row.Throughput))
				for _, e := range extraNames(c) {
					fmt.Fprintf(&b, " | %s", fmtNum(metric(row.Extra, e)))
				}
				if lat {
					fmt.Fprintf(&b, " | %s | %s", fmtMs(row.P50Ms), fmtMs(row.P99Ms))
				}
				fmt.Fprintf(&b, " | %s | %s | %s |\n", fmtNum(row.CPUSeconds), fmtNum(row.CPUPerOpMicros()), fmtBytes(row.PeakRSSBytes))
			}
			var ratios []string
			for _, row := range c.Rows {
				for _, ra := range row.Ratios {
					s := fmt.Sprintf("%s vs %s: throughput **%s**", row.System, ra.Baseline, fmtRatio(ra.Throughput))
					if ra.P99 != 0 {
						s += ", p99 " + fmtRatio(ra.P99)
					}
					if ra.CPUPerOp != 0 {
						s += ", CPU/op " + fmtRatio(ra.CPUPerOp)
					}
					ratios = append(ratios, s)
				}
			}
			if len(ratios) > 0 {
				b.WriteString("\nRatios, Squall ÷ baseline (throughput above 1: Squall is faster; p99 and CPU/op above 1: Squall is slower or costlier): " +
					strings.Join(ratios, "; ") + ".\n")
			}
			var notes []string
			for _, row := range c.Rows {
				if row.Note != "" {
					notes = append(notes, row.System+": "+row.Note)
				}
			}
			if len(notes) > 0 {
				b.WriteString("\n" + strings.Join(notes, " ") + "\n")
			}
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "\n> %s\n", n)
		}
		fmt.Fprintf(&b, "\n![%s throughput](%s)\n", s.Name, filepath.ToSlash(filepath.Join(chartDir, s.Name+"-throughput.png")))
		if lat {
			fmt.Fprintf(&b, "![%s latency](%s)\n", s.Name, filepath.ToSlash(filepath.Join(chartDir, s.Name+"-latency.png")))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *ScenarioResult) hasLatency() bool {
	for _, c := range s.Cases {
		for _, r := range c.Rows {
			if r.P99Ms > 0 {
				return true
			}
		}
	}
	return false
}

// extraNames lists the names of a case's extra metrics, in first-seen
// order.
func extraNames(c *Case) []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range c.Rows {
		for _, e := range r.Extra {
			if !seen[e.Name] {
				seen[e.Name] = true
				names = append(names, e.Name)
			}
		}
	}
	return names
}

func metric(ms []Metric, name string) float64 {
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// fmtNum formats a throughput or a cost: thousands separated, no
// decimals from 100 up, three significant digits below.
func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "—"
	case math.Abs(v) >= 100:
		s := fmt.Sprintf("%.0f", v)
		var out []byte
		for i := range len(s) {
			if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
				out = append(out, ',')
			}
			out = append(out, s[i])
		}
		return string(out)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtMs(ms float64) string {
	switch {
	case ms == 0:
		return "—"
	case ms < 1:
		return fmt.Sprintf("%.0f µs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

func fmtRatio(r float64) string {
	switch {
	case r == 0:
		return "—"
	case r < 0.1:
		return fmt.Sprintf("%.3f×", r)
	case r < 10:
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.0f×", r)
}

func fmtBytes(n int64) string {
	switch {
	case n == 0:
		return "—"
	case n < 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n < 1<<30:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return d.String()
}

// Write writes the report into dir: results.md, results.json and the
// charts (one throughput chart per scenario, and a latency chart where it
// measures latency). The Markdown links the charts by their paths
// relative to linkBase (empty: by file name).
func (r *Report) Write(dir, linkBase string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: create %s: %w", dir, err)
	}
	if err := writeFile(filepath.Join(dir, "results.json"), r.WriteJSON); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "results.md"), func(w io.Writer) error { return r.WriteMarkdown(w, linkBase) }); err != nil {
		return err
	}
	for _, s := range r.Scenarios {
		if err := writeFile(filepath.Join(dir, s.Name+"-throughput.png"), s.throughputChart); err != nil {
			return err
		}
		if s.hasLatency() {
			if err := writeFile(filepath.Join(dir, s.Name+"-latency.png"), s.latencyChart); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile writes a file through a temporary one, so a failed write
// leaves the old file.
func writeFile(path string, fn func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}

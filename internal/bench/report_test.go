package bench

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	s := &ScenarioResult{Name: "append", Title: "Durable appends", Unit: "appends/s", Method: "How it was measured.",
		Notes: []string{"Squall (Python) not measured: no toolchain."},
		Cases: []*Case{{Rows: []*Row{
			{System: "Squall", Ops: 10_000, Seconds: 2, Throughput: 5000, P50Ms: 2.5, P99Ms: 9.0, CPUSeconds: 1.5, PeakRSSBytes: 120 << 20,
				Procs: []ProcUsage{{Name: "squall server", CPUSeconds: 1.5, PeakRSSBytes: 120 << 20}}},
			{System: "raw Pebble", Baseline: true, Ops: 40_000, Seconds: 2, Throughput: 20_000, P50Ms: 0.3, P99Ms: 0.6, CPUSeconds: 0.5, PeakRSSBytes: 50 << 20,
				Note: "in-process writers."},
			{System: "JetStream", Baseline: true, Ops: 8000, Seconds: 2, Throughput: 4000, P50Ms: 3, P99Ms: 30, CPUSeconds: 0.6, PeakRSSBytes: 60 << 20},
		}}},
	}
	f := &ScenarioResult{Name: "fanout", Title: "Social fanout", Unit: "posts/s", ChartMetric: "timeline writes/s"}
	for _, n := range []int{100, 1000} {
		f.Cases = append(f.Cases, &Case{Name: map[int]string{100: "100 followers", 1000: "1000 followers"}[n], Rows: []*Row{
			{System: "Squall (Go)", Ops: 500, Seconds: 1, Throughput: 500, Extra: []Metric{{"timeline writes/s", 500 * float64(n)}}, CPUSeconds: 1},
			{System: "Squall (Rust)", Ops: 800, Seconds: 1, Throughput: 800, Extra: []Metric{{"timeline writes/s", 800 * float64(n)}}, CPUSeconds: 1},
			{System: "pipeline", Baseline: true, Ops: 2000, Seconds: 1, Throughput: 2000, Extra: []Metric{{"timeline writes/s", 2000 * float64(n)}}, CPUSeconds: 0.5},
		}})
	}
	r := &Report{Started: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), Duration: 95, Mode: "full", Commit: "abc1234",
		Machine:   Machine{CPUs: 2, CPUModel: "AMD EPYC", MemoryGiB: 24, GoVersion: "go1.26.8", LoadBefore: "0.5 0.4 0.3"},
		Scenarios: []*ScenarioResult{s, f}}
	for _, sc := range r.Scenarios {
		sc.computeRatios()
	}
	return r
}

func TestComputeRatios(t *testing.T) {
	r := sampleReport()
	rows := r.Scenarios[0].Cases[0].Rows
	sq := rows[0]
	if len(sq.Ratios) != 2 || rows[1].Ratios != nil || rows[2].Ratios != nil {
		t.Fatalf("ratios: squall %v, baselines %v %v", sq.Ratios, rows[1].Ratios, rows[2].Ratios)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	pebble, js := sq.Ratios[0], sq.Ratios[1]
	if pebble.Baseline != "raw Pebble" || !near(pebble.Throughput, 0.25) || !near(pebble.P99, 15) {
		t.Errorf("vs pebble = %+v", pebble)
	}
	// CPU per op: squall 150 µs, pebble 12.5 µs.
	if !near(pebble.CPUPerOp, 12) {
		t.Errorf("CPU/op ratio = %v, want 12", pebble.CPUPerOp)
	}
	if js.Baseline != "JetStream" || !near(js.Throughput, 1.25) || !near(js.P99, 0.3) {
		t.Errorf("vs jetstream = %+v", js)
	}
	// The fanout's rows have no latency: no p99 ratio, but throughput.
	fr := r.Scenarios[1].Cases[1].Rows[0].Ratios
	if len(fr) != 1 || !near(fr[0].Throughput, 0.25) || fr[0].P99 != 0 {
		t.Errorf("fanout ratios = %+v", fr)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteMarkdown(&b, "benchmarks"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"Run 2026-11-26 07:00 UTC (full mode, 1m35s), commit `abc1234`, 2 CPUs (AMD EPYC), 24 GiB",
		"### Durable appends (`append`)\n\nHow it was measured.\n",
		"| system | appends/s | p50 | p99 | CPU s | CPU µs/op | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|\n",
		"| **Squall** | 5,000 | 2.50 ms | 9.00 ms | 1.50 | 150 | 120 MiB |\n",
		"| raw Pebble | 20,000 | 300 µs | 600 µs | 0.50 | 12.5 | 50 MiB |\n",
		"Squall vs raw Pebble: throughput **0.25×**, p99 15×, CPU/op 12×; Squall vs JetStream: throughput **1.25×**, p99 0.30×, CPU/op 2.00×.",
		"raw Pebble: in-process writers.",
		"> Squall (Python) not measured: no toolchain.",
		"![append throughput](benchmarks/append-throughput.png)\n![append latency](benchmarks/append-latency.png)",
		"**1000 followers**\n\n| system | posts/s | timeline writes/s | CPU s | CPU µs/op | peak RSS |\n",
		"| **Squall (Rust)** | 800 | 800,000 | 1.00 | 1,250 | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "![fanout latency]") {
		t.Error("a latency chart is linked for a scenario without latencies")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	got := back.Scenarios[0].Cases[0].Rows[0]
	if got.System != "Squall" || got.Throughput != 5000 || got.P99Ms != 9 || got.Procs[0].Name != "squall server" || len(got.Ratios) != 2 {
		t.Errorf("round trip lost data: %+v", got)
	}
	for _, key := range []string{`"p99Ms": 9`, `"peakRssBytes": 125829120`, `"chartMetric": "timeline writes/s"`, `"baseline": "raw Pebble"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestWriteFilesAndCharts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := sampleReport().Write(dir, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		minH, maxH int
	}{
		{"append-throughput.png", 200, 400},
		{"append-latency.png", 200, 400},
		{"fanout-throughput.png", 300, 600},
	} {
		f, err := os.Open(filepath.Join(dir, c.name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Height grows with the number of bars.
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < c.minH || b.Dy() > c.maxH {
			t.Errorf("%s is %v", c.name, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "fanout-latency.png")); !os.IsNotExist(err) {
		t.Errorf("a latency chart without latencies: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil || !bytes.Contains(md, []byte("](append-throughput.png)")) {
		t.Errorf("results.md: %v\n%s", err, md)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 5 {
		t.Errorf("%d files written, want 5 (no temporary files left)", len(ents))
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{fmtNum(0), "—"}, {fmtNum(1234567), "1,234,567"}, {fmtNum(999.6), "1,000"}, {fmtNum(42.31), "42.3"}, {fmtNum(0.125), "0.12"},
		{fmtMs(0.25), "250 µs"}, {fmtMs(2.5), "2.50 ms"}, {fmtMs(31.96), "32.0 ms"}, {fmtMs(250), "250 ms"}, {fmtMs(3763), "3.76 s"},
		{fmtRatio(0.05), "0.050×"}, {fmtRatio(1.5), "1.50×"}, {fmtRatio(12.4), "12×"},
		{fmtBytes(5 << 20), "5.0 MiB"}, {fmtBytes(300 << 20), "300 MiB"}, {fmtBytes(3 << 30), "3.00 GiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestReadReport(t *testing.T) {
	dir := t.TempDir()
	if err := sampleReport().Write(dir, ""); err != nil {
		t.Fatal(err)
	}
	r, err := ReadReport(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := r.WriteMarkdown(&a, ""); err != nil {
		t.Fatal(err)
	}
	if err := sampleReport().WriteMarkdown(&b, ""); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("a report read back renders differently:\n%s\nvs\n%s", a.String(), b.String())
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"mode": "full"}`), 0o644)
	if _, err := ReadReport(bad); err == nil || !strings.Contains(err.Error(), "no scenario") {
		t.Errorf("empty report: %v", err)
	}
	os.WriteFile(bad, []byte(`not json`), 0o644)
	if _, err := ReadReport(bad); err == nil || !strings.Contains(err.Error(), "not a report") {
		t.Errorf("not JSON: %v", err)
	}
}

func TestClampedLogScale(t *testing.T) {
	s := clampedLog{}
	for _, c := range []struct{ x, want float64 }{{0, 0}, {0.1, 0}, {1, 0.5}, {10, 1}} {
		if got := s.Normalize(0.1, 10, c.x); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Normalize(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

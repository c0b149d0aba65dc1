package e2e

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
)

// TestPanickingStage runs the fixture testdata/panicmod, built to wasm from
// source: its stage "check" panics on one record and its stage "echo" on
// one hop payload (a runtime error). Each is dead-lettered after the
// engine's maximum attempts, with the panic's message, and ACK appenders
// learn of it; every other record is processed exactly once, including
// those in the same batches, and the module keeps processing afterwards.
func TestPanickingStage(t *testing.T) {
	wasm := moduleWasm(t, panicSrc)
	cfg := fastConfig()
	cfg.Logger = quietLogger() // the failures are expected
	n := newNode(t, cfg)
	n.deployWasm("panicky", wasm)

	wantSeen, wantEchoed := map[string]int64{}, map[string]int64{}
	ev := func(id, text string) abi.Value { return rec("id", id, "text", text) }
	// A burst without waiting, so that the bad records share batches with
	// good ones.
	for i := range 200 {
		id, text := fmt.Sprintf("e%03d", i), fmt.Sprintf("t%d", i%17)
		switch i {
		case 57:
			text = "boom"
		case 131:
			text = "hop-boom"
		}
		n.append("panicky", "events", ev(id, text), engine.AckNone)
		if text != "boom" {
			wantSeen[id]++ // the item that panicked wrote nothing
		}
		if !strings.Contains(text, "boom") {
			wantEchoed[text]++
		}
	}
	// The same through ACK appends: the appender gets the failure.
	for _, c := range []struct{ id, text, stage, msg string }{
		{"a-boom", "boom", "check", "panicmod: refusing event a-boom"},
		{"a-hop", "hop-boom", "echo", "assignment to entry in nil map"},
	} {
		_, err := n.tryAppend("panicky", "events", ev(c.id, c.text), engine.AckAck)
		var perr *engine.ProcessingError
		if !errors.As(err, &perr) || !strings.Contains(err.Error(), c.stage) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ACK append of %s: %v, want a processing error of stage %s with %q", c.id, err, c.stage, c.msg)
		}
		if c.stage == "echo" {
			wantSeen[c.id]++
		}
	}
	n.waitIdle("panicky", time.Minute)

	if got := n.intMap("panicky", "$$seen"); !maps.Equal(got, wantSeen) {
		t.Errorf("$$seen: %d ids, want %d:\n got %v\nwant %v", len(got), len(wantSeen), got, wantSeen)
	}
	if got := n.intMap("panicky", "$$echoed"); !maps.Equal(got, wantEchoed) {
		t.Errorf("$$echoed:\n got %v\nwant %v", got, wantEchoed)
	}

	dls := n.deadLetters("panicky")
	type key struct{ stage, input string }
	byKey := map[key]engine.DeadLetter{}
	for _, dl := range dls {
		in := dl.Payload.String()
		if dl.Stage == "check" {
			id, _ := dl.Payload.Get(abi.String("id"))
			in, _ = id.AsString()
		}
		byKey[key{dl.Stage, in}] = dl
	}
	for _, c := range []struct {
		k   key
		msg string
	}{
		{key{"check", "e057"}, "panicmod: refusing event e057"},
		{key{"check", "a-boom"}, "panicmod: refusing event a-boom"},
		{key{"echo", `"hop-boom"`}, "assignment to entry in nil map"},
	} {
		dl, ok := byKey[c.k]
		switch {
		case !ok:
			t.Errorf("no dead letter for %v", c.k)
		case !strings.Contains(dl.Error.Message, c.msg) || dl.Error.Kind != "panic":
			t.Errorf("dead letter %v: error %+v, want a panic with %q", c.k, dl.Error, c.msg)
		case dl.Attempts != cfg.MaxAttempts || !strings.Contains(dl.Reason, fmt.Sprint(cfg.MaxAttempts)):
			t.Errorf("dead letter %v after %d attempts (%s), want %d", c.k, dl.Attempts, dl.Reason, cfg.MaxAttempts)
		}
	}
	// Two hop-booms (the burst's and the ACK one) give two echo dead
	// letters with the same payload.
	if len(dls) != 4 {
		for _, dl := range dls {
			t.Logf("dead letter: %s %v %s %s", dl.Stage, dl.Payload, dl.Reason, dl.Error.Message)
		}
		t.Errorf("%d dead letters, want 4", len(dls))
	}

	// The module keeps working.
	res := n.append("panicky", "events", ev("after", "fine"), engine.AckAck)
	if got := n.selInt("panicky", "$$echoed", abi.P().Key(abi.String("fine"))); got != 1 {
		t.Errorf("after the panics: echoed %d (%+v)", got, res)
	}
}

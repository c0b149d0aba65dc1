package main

import (
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

// The module's own tests run the module registered by init, natively.
func TestWordCount(t *testing.T) {
	h := squalltest.New(t, 4)
	a := h.Append("sentences", Sentence{User: "ann", Text: "To be or not to be"})
	if r, _ := a.AckReturn("wordcount"); r.String() != `{"words": 6, "sentences": 1}` {
		t.Fatalf("ack return %s", r)
	}
	b := h.Append("sentences", Sentence{User: "ann", Text: "be quick"})
	if r, _ := b.AckReturn("wordcount"); r.String() != `{"words": 2, "sentences": 2}` {
		t.Fatalf("ack return %s", r)
	}
	for w, want := range map[string]int64{"to": 2, "be": 3, "quick": 1} {
		if n, _ := h.SelectOne("$$counts", squall.Key(w)).AsInt(); n != want {
			t.Errorf("%s: %d, want %d", w, n, want)
		}
	}
	if n, _ := h.SelectOne("$$total", squall.P()).AsInt(); n != 8 {
		t.Errorf("total %d", n)
	}
	h.Append("sentences", Sentence{User: "eve"})
	if dl := h.DeadLetters(); len(dl) != 1 || dl[0].Error.Kind != "poison" {
		t.Fatalf("dead letters %+v", dl)
	}
}

package engine

import (
	"testing"

	"github.com/squall-run/squall/abi"
)

// TestAckHubEarlyCompletion: a record can be processed (another append
// woke its task) before its appender's Append returns and resolves. The
// completion is kept as early and must reach the waiter even when the
// appender's floor is the last one, whose end forgets early completions.
func TestAckHubEarlyCompletion(t *testing.T) {
	for _, tc := range []struct {
		name        string
		otherFloors []uint64 // floors of other appenders still in flight
	}{
		{"last floor", nil},
		{"other floor below", []uint64{3}},
		{"other floor above", []uint64{20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newAckHub()
			for _, f := range tc.otherFloors {
				h.begin(0, f)
			}
			tok := h.begin(0, 10)
			h.complete(0, 12, "wordcount", abi.Int(5), true, "") // before resolve
			w := newClientWaiter(1)
			h.resolve(tok, 12, w)
			select {
			case <-w.done:
			default:
				t.Fatal("the waiter of an early-completed record is not done")
			}
			if got := w.rets["wordcount"]; !abi.Equal(got, abi.Int(5)) {
				t.Errorf("ack return %v, want 5", got)
			}
		})
	}
}

// TestAckHubCompletionAfterResolve is the ordinary order: resolve first,
// the waiter finishes at the completion.
func TestAckHubCompletionAfterResolve(t *testing.T) {
	h := newAckHub()
	tok := h.begin(1, 4)
	w := newClientWaiter(1)
	h.resolve(tok, 4, w)
	select {
	case <-w.done:
		t.Fatal("done before its record completed")
	default:
	}
	h.complete(1, 4, "t", abi.Nil(), false, "")
	select {
	case <-w.done:
	default:
		t.Fatal("not done after its record completed")
	}
}

package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

func balance(t *testing.T, h *squalltest.Harness, account string) int64 {
	t.Helper()
	v, err := h.Invoke("account", account, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Field("balance").AsInt()
	return b
}

func TestTransfersAndQueries(t *testing.T) {
	h := squalltest.New(t, 4)
	h.Append("deposits", Deposit{Account: "ann", Amount: 100})
	h.Append("deposits", Deposit{Account: "bob", Amount: 50})
	h.Append("transfers", Transfer{ID: "t1", From: "ann", To: "bob", Amount: 30})
	h.Append("transfers", Transfer{ID: "t2", From: "bob", To: "ann", Amount: 500}) // refused: bob has 80
	h.Append("transfers", Transfer{ID: "t3", From: "bob", To: "cat", Amount: 80})

	for acct, want := range map[string]int64{"ann": 70, "bob": 0, "cat": 80} {
		if got := balance(t, h, acct); got != want {
			t.Errorf("balance of %s = %d, want %d", acct, got, want)
		}
	}
	if v, err := h.Invoke("total"); err != nil || v.String() != "150" {
		t.Errorf("total = %v %v, want 150", v, err)
	}

	v, err := h.Invoke("account", "bob", 2)
	if err != nil {
		t.Fatal(err)
	}
	hist := v.Field("transfers").Items()
	if len(hist) != 2 {
		t.Fatalf("bob's last 2 transfers: %v", v)
	}
	// Newest first: t3 debited, then t2 refused.
	if k, _ := hist[0].Field("kind").AsString(); k != Debited || hist[0].Field("id").String() != `"t3"` {
		t.Errorf("newest entry %v", hist[0])
	}
	if k, _ := hist[1].Field("kind").AsString(); k != Refused || hist[1].Field("id").String() != `"t2"` {
		t.Errorf("second entry %v", hist[1])
	}

	stats, err := h.Invoke("stats")
	if err != nil {
		t.Fatal(err)
	}
	if got := stats.Field(Credited).Field("count").String(); got != "2" {
		t.Errorf("credited count %s (stats %v)", got, stats)
	}
	if got := stats.Field(Credited).Field("largest").String(); got != `[[80, "t3"], [30, "t1"]]` {
		t.Errorf("largest credits %s", got)
	}
	if got := stats.Field(Refused).Field("amount").String(); got != "500" {
		t.Errorf("refused amount %s", got)
	}
}

func TestBadInput(t *testing.T) {
	h := squalltest.New(t, 2, squalltest.Quiet())
	h.Append("transfers", Transfer{ID: "x", From: "ann", To: "ann", Amount: 5})
	h.Append("deposits", Deposit{Account: "ann", Amount: -5})
	dls := h.DeadLetters()
	if len(dls) != 2 || !strings.Contains(dls[0].Error.Message, "two different accounts") || !strings.Contains(dls[1].Error.Message, "positive") {
		t.Fatalf("dead letters %+v", dls)
	}
	if _, err := h.Invoke("account", "ann"); err == nil || !strings.Contains(err.Error(), "takes 2 arguments (id, limit); got 1") {
		t.Errorf("invoke with one argument: %v", err)
	}
	if _, err := h.Invoke("account", "ann", 5000); err == nil || !strings.Contains(err.Error(), "limit must be from 0 to 1000") {
		t.Errorf("invoke with a big limit: %v", err)
	}
}

// Random transfers keep the total and record every transfer once in the
// history of its sender (debit or refused) and once in its receiver's
// when applied.
func TestRandomTransfersConserveMoney(t *testing.T) {
	h := squalltest.New(t, 8, squalltest.BatchSize(32))
	const accounts = 12
	name := func(i int) string { return fmt.Sprintf("a%02d", i) }
	for i := range accounts {
		h.Append("deposits", Deposit{Account: name(i), Amount: 100})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 300 {
		from, to := rng.IntN(accounts), rng.IntN(accounts-1)
		if to >= from {
			to++
		}
		h.Append("transfers", Transfer{ID: fmt.Sprint("t", i), From: name(from), To: name(to), Amount: int64(1 + rng.IntN(60))})
	}
	if v, err := h.Invoke("total"); err != nil || v.String() != fmt.Sprint(accounts*100) {
		t.Fatalf("total = %v %v", v, err)
	}
	seen := map[string]int{}
	for i := range accounts {
		v, err := h.Invoke("account", name(i), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range v.Field("transfers").Items() {
			k, _ := e.Field("kind").AsString()
			id, _ := e.Field("id").AsString()
			seen[k+" "+id]++
		}
	}
	for i := range 300 {
		id := fmt.Sprint("t", i)
		d, r, c := seen[Debited+" "+id], seen[Refused+" "+id], seen[Credited+" "+id]
		if d+r != 1 || c != d {
			t.Errorf("transfer %s: debited %d, refused %d, credited %d", id, d, r, c)
		}
	}
}

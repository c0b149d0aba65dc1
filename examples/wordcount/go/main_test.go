package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"  \t\n", nil},
		{"...!?", nil},
		{"Hello, hello WORLD!", []string{"hello", "hello", "world"}},
		{"Don't stop", []string{"don", "t", "stop"}},
		{"route66 is 3,000 km", []string{"route66", "is", "3", "000", "km"}},
		{"ÇA VA? Ça va.", []string{"ça", "va", "ça", "va"}},
		{"tab\tand—dash", []string{"tab", "and", "dash"}},
	} {
		if got := Words(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// count reads a word's count as a client does (0 when absent).
func count(h *squalltest.Harness, word string) int64 {
	n, _ := h.SelectOne("$$wordCounts", squall.Key(word)).AsInt()
	return n
}

func TestCountsAndAckReturn(t *testing.T) {
	h := squalltest.New(t, 4)
	a := h.Append("sentences", Sentence{User: "ann", Text: "Hello, hello WORLD!"})
	if r, ok := a.AckReturn("wordcount"); !ok || r.String() != "3" {
		t.Fatalf("ack return %v (%v), want 3", r, ok)
	}
	h.Append("sentences", Sentence{User: "bob", Text: "world peace"})
	for w, want := range map[string]int64{"hello": 2, "world": 2, "peace": 1, "war": 0} {
		if got := count(h, w); got != want {
			t.Errorf("%s: %d, want %d", w, got, want)
		}
	}
	// The sentence went to its user's partition.
	if p := h.KeyPartition("ann"); a.Partition != p {
		t.Errorf("ann's sentence is on partition %d, ann's key on %d", a.Partition, p)
	}
	if dl := h.DeadLetters(); len(dl) != 0 {
		t.Errorf("dead letters %+v", dl)
	}
}

// Each word is counted on the partition that owns it, and only there.
func TestWordsLiveOnTheirPartitions(t *testing.T) {
	h := squalltest.New(t, 4)
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa")
	h.Append("sentences", Sentence{User: "ann", Text: strings.Join(words, " ")})
	parts := map[int]bool{}
	for _, w := range words {
		owner := h.KeyPartition(w)
		parts[owner] = true
		for p := range h.Partitions() {
			got := h.SelectPartition("$$wordCounts", p, squall.P().MustKey(w))
			if want := p == owner; (len(got) == 1) != want {
				t.Errorf("%s on partition %d (owner %d): %v", w, p, owner, got)
			}
		}
	}
	if len(parts) < 2 {
		t.Errorf("ten words all hash to partitions %v: the test proves nothing", parts)
	}
}

func TestEmptySentences(t *testing.T) {
	h := squalltest.New(t, 2)
	for _, text := range []string{"", "   ", "?!"} {
		a := h.Append("sentences", Sentence{User: "ann", Text: text})
		if r, _ := a.AckReturn("wordcount"); r.String() != "0" {
			t.Errorf("%q: ack return %v, want 0", text, r)
		}
	}
	for p := range h.Partitions() {
		if v := h.PState("$$wordCounts", p); !v.IsNil() && v.Len() != 0 {
			t.Errorf("partition %d counts %v", p, v)
		}
	}
	if dl := h.DeadLetters(); len(dl) != 0 {
		t.Errorf("dead letters %+v", dl)
	}
}

// A record that is not a sentence cannot be processed: it is dead-lettered
// at once, and the records after it are processed.
func TestMalformedRecordIsDeadLettered(t *testing.T) {
	h := squalltest.New(t, 2, squalltest.Quiet())
	h.Append("sentences", map[string]any{"user": "ann", "text": 42})
	h.Append("sentences", Sentence{User: "ann", Text: "still counting"})
	dl := h.DeadLetters()
	if len(dl) != 1 || dl[0].Stage != "split" || dl[0].Kind != "record" || dl[0].Attempts != 1 {
		t.Fatalf("dead letters %+v", dl)
	}
	if !strings.Contains(dl[0].Error.Message, "text") {
		t.Errorf("the error does not name the field: %+v", dl[0].Error)
	}
	if count(h, "still") != 1 || count(h, "counting") != 1 {
		t.Errorf("the next sentence was not counted")
	}
}

// Random sentences, processed in batches: every count equals the number of
// times the word was written, whatever its case and punctuation.
func TestRandomSentences(t *testing.T) {
	h := squalltest.New(t, 4, squalltest.Manual(), squalltest.BatchSize(64))
	r := rand.New(rand.NewPCG(7, 11))
	vocab := make([]string, 150)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%03d", i)
	}
	want := map[string]int64{}
	for i := range 400 {
		var sb strings.Builder
		for range r.IntN(12) {
			w := vocab[r.IntN(len(vocab))]
			want[w]++
			if r.IntN(3) == 0 {
				w = strings.ToUpper(w)
			}
			sb.WriteString(w)
			sb.WriteString([]string{" ", ", ", "! ", " -- ", "\n"}[r.IntN(5)])
		}
		h.Append("sentences", Sentence{User: fmt.Sprintf("user%d", i%13), Text: sb.String()})
	}
	h.Run()
	got := map[string]int64{}
	for p := range h.Partitions() {
		for _, e := range h.PState("$$wordCounts", p).Entries() {
			w, _ := e.Key.AsString()
			n, _ := e.Val.AsInt()
			got[w] = n
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d words counted, want %d", len(got), len(want))
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s: %d, want %d", w, got[w], n)
		}
	}
	if s := h.Stats(); s.DeadLetters != 0 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
}

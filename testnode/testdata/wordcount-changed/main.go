// Command wordcount is a Squall module that counts words.
//
// Clients append sentences {"user": ..., "text": ...} to the depot
// "sentences", which is partitioned by user. The stream topology
// "wordcount" splits each sentence into lowercase words on the sentence's
// partition (stage "split"), hops every word to the partition that owns it
// (a hash hop keyed by the word), and there increments the word's count in
// the PState "$$wordCounts" (stage "count"). A client that appends with
// ACK gets the sentence's number of words back as the topology's ack
// return, once every word is counted.
//
// Build it to WebAssembly with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o wordcount.wasm .
package main

import (
	"strings"
	"unicode"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Sentence is a record of the depot "sentences".
type Sentence struct {
	User string
	Text string
}

// MarshalSquall stores a sentence as {"user": ..., "text": ...}.
func (s Sentence) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"user": s.User, "text": s.Text})
}

// UnmarshalSquall reads a sentence; absent fields are empty.
func (s *Sentence) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"user": &s.User, "text": &s.Text})
}

// Words splits text into words: the maximal runs of letters and digits,
// lowercased. Everything else (spaces, punctuation, symbols) separates
// words, so "Don't stop, DON'T!" is "don", "t", "stop", "don", "t".
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), notWordRune)
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// Define declares the module.
func Define(m *squall.ModuleBuilder) {
	m.Name("wordcount")
	sentences := m.Depot("sentences", squall.HashBy(squall.Key("user")))
	wordCounts := m.PState("$$wordCounts", squall.MapOf(squall.StringT, squall.IntT))
	// The change: one more PState, so the definition differs from the
	// deployed wordcount's and an update to this module is refused.
	m.PState("$$extra", squall.MapOf(squall.StringT, squall.IntT))

	t := m.Stream("wordcount")
	var count *squall.Stage // declared below; split hops to it
	split := t.Stage("split", squall.Typed(func(ctx *squall.Ctx, s Sentence) error {
		words := Words(s.Text)
		for _, w := range words {
			// Count the word on the partition that owns it: the hop's key
			// picks the partition, the payload is the word itself.
			if err := ctx.Hop(count, w, w); err != nil {
				return err
			}
		}
		// The ack return of the sentence: an appender that waits with ACK
		// receives it once every hop above is done.
		return ctx.Emit(len(words))
	}))
	count = t.Stage("count", squall.Typed(func(ctx *squall.Ctx, word string) error {
		// An absent word counts from 0 (Incr treats nil as 0).
		return ctx.Transform(wordCounts, squall.Key(word).Incr(1))
	}))
	t.Source(sentences, split)
}

func init() { squall.Define(Define) }

// main is not run: built with -buildmode=c-shared the module is a WASI
// reactor, and the host calls its exports.
func main() {}

package conformance

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// exampleDir is the directory of an example's version in a language.
func exampleDir(name string) func(string) string {
	return func(lang string) string { return "examples/" + name + "/" + lang }
}

// The wordcount example with random sentences from a fixed seed: words
// with mixed case, punctuation, digits and non-ASCII letters.
func TestExampleWordcount(t *testing.T) {
	words := []string{"the", "The", "QUICK", "brown", "fox", "naïve", "Straße", "ÉCOLE", "日本", "x2", "42", "İstanbul", "ǅemal", "ΣΊΣΥΦΟΣ", "don't", "e-mail", "a_b", "café"}
	seps := []string{" ", "  ", ", ", "! ", "\t", " — ", "..."}
	acrossSDKs(t, exampleDir("wordcount"), func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		r := rand.New(rand.NewPCG(7, 11))
		for i := range 60 {
			var b strings.Builder
			for j := range r.IntN(8) {
				if j > 0 {
					b.WriteString(seps[r.IntN(len(seps))])
				}
				b.WriteString(words[r.IntN(len(words))])
			}
			tr.ack(n, def.Name, "sentences", rec("user", fmt.Sprintf("u%d", i%5), "text", b.String()))
		}
		tr.lines = append(tr.lines, n.dump(def, nil)...)
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

// The social example with random follows, unfollows and posts from a
// fixed seed.
func TestExampleSocial(t *testing.T) {
	users := []string{"ann", "bob", "cy", "dee", "éva", "fumi", "gus", "hal"}
	acrossSDKs(t, exampleDir("social"), func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		r := rand.New(rand.NewPCG(3, 5))
		for i := range 80 {
			a, b := users[r.IntN(len(users))], users[r.IntN(len(users))]
			switch x := r.IntN(10); {
			case x < 5:
				tr.ack(n, def.Name, "follows", rec("from", a, "to", b))
			case x < 6:
				tr.ack(n, def.Name, "follows", rec("from", a, "to", b, "unfollow", true))
			default:
				tr.ack(n, def.Name, "posts", rec("author", a, "id", i, "text", fmt.Sprintf("post %d by %s", i, a)))
			}
		}
		tr.lines = append(tr.lines, n.dump(def, nil)...)
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

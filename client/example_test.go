package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
)

// Deploy the wordcount example, append a sentence and read a count. It
// needs a node (`squall dev`), so it is compiled but not run.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:7790", client.WithToken(os.Getenv("SQUALL_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	wasm, err := os.ReadFile("wordcount.wasm") // squall build examples/wordcount/go
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Deploy(ctx, wasm, client.DeployOptions{Tasks: 4}); err != nil && !errors.Is(err, client.ErrAlreadyExists) {
		log.Fatal(err)
	}
	sentence := abi.Map(
		abi.MapEntry{Key: abi.String("user"), Val: abi.String("ada")},
		abi.MapEntry{Key: abi.String("text"), Val: abi.String("the cat and the hat")},
	)
	res, err := c.Append(ctx, "wordcount", "sentences", sentence, client.Ack)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("words:", res.AckReturns["wordcount"])

	n, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", abi.P().Key(abi.String("the")))
	switch {
	case errors.Is(err, client.ErrNotFound):
		log.Fatal("is the wordcount module deployed? ", err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("the:", n)
}

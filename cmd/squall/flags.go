package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// parseInterspersed parses flags anywhere among the positional arguments
// (`squall select m p 'key("a")' --one`), and returns the positional
// ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string, synopsis string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v", errUsage, synopsis, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set whose help goes to w.
func newFlagSet(name string, w io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// clientFlags are the flags of every command that talks to a node.
type clientFlags struct {
	addr  string
	token string
	json  bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	addr := os.Getenv("SQUALL_ADDR")
	if addr == "" {
		addr = "http://127.0.0.1:7790"
	}
	fs.StringVar(&c.addr, "addr", addr, "the node's URL (env SQUALL_ADDR)")
	fs.StringVar(&c.token, "token", os.Getenv("SQUALL_TOKEN"), "bearer token (env SQUALL_TOKEN)")
	fs.BoolVar(&c.json, "json", false, "print the response as JSON (the Connect JSON form)")
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, n int, synopsis string) error {
	if len(pos) != n {
		return fmt.Errorf("%w: %s (got %d arguments, want %d)", errUsage, synopsis, len(pos), n)
	}
	return nil
}

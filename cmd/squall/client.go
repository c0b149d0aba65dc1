package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/pathtext"
)

// newClient returns a client of the node at addr with the bearer token
// when one is given: the public client package, so the CLI and the tests
// take one code path.
func newClient(addr, token string) (*client.Client, error) {
	var opts []client.Option
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.New(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: give a URL such as http://127.0.0.1:7790", addr)
	}
	return c, nil
}

// progressLine reports an upload's progress on one line of w, a step
// every tenth: "uploading 3.7 MB ... 27% 54% 81% 100%". It needs no
// terminal control codes, so logs and CI output stay readable.
func progressLine(w io.Writer, what string) func(sent, total int64) {
	last := int64(-1)
	return func(sent, total int64) {
		if last < 0 {
			fmt.Fprintf(w, "uploading %s (%s) ...", what, humanBytes(total))
			last = 0
		}
		pct := int64(100)
		if total > 0 {
			pct = sent * 100 / total
		}
		if pct/10 > last/10 || pct == 100 {
			fmt.Fprintf(w, " %d%%", pct)
			last = pct
		}
		if sent >= total {
			fmt.Fprintln(w)
		}
	}
}

// humanBytes formats a size: 512 B, 3.7 kB, 3.7 MB.
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// parseValue reads a command-line value: JSON (objects become maps with
// string keys, integral numbers ints, other numbers doubles), or else the
// text form of values (0x"cafe" for bytes, #{1, 2} for sets).
func parseValue(s string) (abi.Value, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err == nil && !dec.More() {
		return jsonValue(x)
	}
	v, err := pathtext.ParseValue(s)
	if err != nil {
		return abi.Nil(), fmt.Errorf("%v (values are JSON, or Squall's text form for bytes 0x\"cafe\" and sets #{1, 2})", err)
	}
	return v, nil
}

func jsonValue(x any) (abi.Value, error) {
	switch x := x.(type) {
	case nil:
		return abi.Nil(), nil
	case bool:
		return abi.Bool(x), nil
	case string:
		return abi.String(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return abi.Int(i), nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return abi.Nil(), fmt.Errorf("number %s is out of range", x)
		}
		return abi.Float(f), nil
	case []any:
		items := make([]abi.Value, len(x))
		for i, it := range x {
			v, err := jsonValue(it)
			if err != nil {
				return abi.Nil(), err
			}
			items[i] = v
		}
		return abi.List(items...), nil
	case map[string]any:
		es := make([]abi.MapEntry, 0, len(x))
		for k, it := range x {
			v, err := jsonValue(it)
			if err != nil {
				return abi.Nil(), err
			}
			es = append(es, abi.MapEntry{Key: abi.String(k), Val: v})
		}
		return abi.Map(es...), nil
	}
	return abi.Nil(), fmt.Errorf("unexpected JSON %T", x)
}

// printJSON writes m in the Connect JSON form.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

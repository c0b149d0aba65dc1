// Package pathtext reads paths and values in the text form that
// abi.Path.String and abi.Value.String write, for the command line:
//
//	key("alice").mapVals()
//	key("u").sortedRange(2, open, limit=10, reverse)
//	all().filter(gt, 3)
//	view(size)
//
// Values are nil, true, false, integers (42, -7), floats (1.5, 1e9, NaN,
// +Inf), strings in Go syntax ("the"), bytes as 0x"cafe", lists [1, 2],
// sets #{1, 2} and maps {"a": 1}. Errors give the 1-based column of the
// problem: `path: column 9: expected ')'`.
package pathtext

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/squall-run/squall/abi"
)

// maxDepth bounds the nesting of values.
const maxDepth = 64

// Error is a syntax error at a column of the input.
type Error struct {
	What string // "path" or "value"
	Col  int    // 1-based byte column
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: column %d: %s", e.What, e.Col, e.Msg) }

type parser struct {
	what  string
	s     string
	pos   int
	depth int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &Error{What: p.what, Col: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errf(format string, args ...any) error { return p.errAt(p.pos, format, args...) }

func (p *parser) skip() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) peek() byte {
	p.skip()
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) error {
	if !p.eat(c) {
		if p.pos >= len(p.s) {
			return p.errf("expected '%c', found the end", c)
		}
		return p.errf("expected '%c', found '%c'", c, p.s[p.pos])
	}
	return nil
}

func (p *parser) ident() string {
	p.skip()
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.pos > start && c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

// ParseValue reads a value.
func ParseValue(s string) (abi.Value, error) {
	p := &parser{what: "value", s: s}
	v, err := p.value()
	if err != nil {
		return abi.Nil(), err
	}
	if p.peek() != 0 {
		return abi.Nil(), p.errf("unexpected text after the value")
	}
	return v, nil
}

func (p *parser) value() (abi.Value, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return abi.Nil(), p.errf("values nest deeper than %d levels", maxDepth)
	}
	c := p.peek()
	switch {
	case c == 0:
		return abi.Nil(), p.errf("expected a value, found the end")
	case c == '"':
		return p.quoted()
	case c == '[':
		p.pos++
		items, err := p.seq(']')
		return abi.List(items...), err
	case c == '{':
		p.pos++
		var es []abi.MapEntry
		for !p.eat('}') {
			if len(es) > 0 {
				if err := p.expect(','); err != nil {
					return abi.Nil(), err
				}
			}
			k, err := p.value()
			if err != nil {
				return abi.Nil(), err
			}
			if err := p.expect(':'); err != nil {
				return abi.Nil(), err
			}
			v, err := p.value()
			if err != nil {
				return abi.Nil(), err
			}
			es = append(es, abi.MapEntry{Key: k, Val: v})
		}
		return abi.Map(es...), nil
	case c == '#':
		p.pos++
		if err := p.expect('{'); err != nil {
			return abi.Nil(), err
		}
		items, err := p.seq('}')
		return abi.Set(items...), err
	case c == '0' && strings.HasPrefix(p.s[p.pos:], `0x"`):
		start := p.pos
		p.pos += 2
		q, err := p.quoted()
		if err != nil {
			return abi.Nil(), err
		}
		hs, _ := q.AsString()
		b, err := hex.DecodeString(hs)
		if err != nil {
			return abi.Nil(), p.errAt(start, "bytes must be an even number of hex digits, as in 0x\"cafe\"")
		}
		return abi.Bytes(b), nil
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && strings.IndexByte("0123456789.eE+-xXabcdefABCDEFInfNa_", p.s[p.pos]) >= 0 {
			p.pos++
		}
		lit := p.s[start:p.pos]
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return abi.Int(i), nil
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return abi.Nil(), p.errAt(start, "%q is not a number", lit)
		}
		return abi.Float(f), nil
	}
	start := p.pos
	switch id := p.ident(); id {
	case "nil":
		return abi.Nil(), nil
	case "true":
		return abi.Bool(true), nil
	case "false":
		return abi.Bool(false), nil
	case "NaN":
		return abi.Float(math.NaN()), nil
	case "":
		return abi.Nil(), p.errAt(start, "expected a value, found '%c'", c)
	default:
		return abi.Nil(), p.errAt(start, "expected a value, found %q (strings are quoted: \"%s\")", id, id)
	}
}

func (p *parser) quoted() (abi.Value, error) {
	p.skip()
	start := p.pos
	p.pos++
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '\\':
			p.pos += 2
			continue
		case '"':
			p.pos++
			s, err := strconv.Unquote(p.s[start:p.pos])
			if err != nil {
				return abi.Nil(), p.errAt(start, "bad string: write it in Go syntax")
			}
			return abi.String(s), nil
		}
		p.pos++
	}
	return abi.Nil(), p.errAt(start, "the string is not terminated")
}

func (p *parser) seq(end byte) ([]abi.Value, error) {
	var out []abi.Value
	for !p.eat(end) {
		if len(out) > 0 {
			if err := p.expect(','); err != nil {
				return nil, err
			}
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// navigators lists the step names, for errors.
const navigators = "key, mustKey, mapVals, mapKeys, all, first, last, nth, sortedRange, filter, nilToVal, view, set, incr, append, prepend, remove, merge"

// Parse reads a path. The empty string is the empty path (the root).
func Parse(s string) (abi.Path, error) {
	p := &parser{what: "path", s: s}
	var path abi.Path
	for p.peek() != 0 {
		if len(path) > 0 {
			if err := p.expect('.'); err != nil {
				return nil, err
			}
		}
		p.skip()
		start := p.pos
		name := p.ident()
		if name == "" {
			return nil, p.errf("expected a navigator (%s)", navigators)
		}
		if err := p.expect('('); err != nil {
			return nil, err
		}
		var err error
		var v abi.Value
		switch name {
		case "key", "mustKey", "nilToVal", "set", "merge", "incr":
			if v, err = p.value(); err != nil {
				return nil, err
			}
			switch name {
			case "key":
				path = path.Key(v)
			case "mustKey":
				path = path.MustKey(v)
			case "nilToVal":
				path = path.NilToVal(v)
			case "set":
				path = path.Set(v)
			case "merge":
				path = path.Merge(v)
			case "incr":
				path = append(path, abi.Nav{Op: abi.OpIncr, Arg: v})
			}
		case "mapVals":
			path = path.MapVals()
		case "mapKeys":
			path = path.MapKeys()
		case "all":
			path = path.All()
		case "first":
			path = path.First()
		case "last":
			path = path.Last()
		case "remove":
			path = path.Remove()
		case "nth":
			p.skip()
			at := p.pos
			if v, err = p.value(); err != nil {
				return nil, err
			}
			i, ok := v.AsInt()
			if !ok {
				return nil, p.errAt(at, "nth takes an integer index")
			}
			path = path.Nth(i)
		case "append", "prepend":
			items, err := p.seq(')')
			if err != nil {
				return nil, err
			}
			p.pos-- // seq ate ')'
			if name == "append" {
				path = path.Append(items...)
			} else {
				path = path.Prepend(items...)
			}
		case "sortedRange":
			if path, err = p.sortedRange(path); err != nil {
				return nil, err
			}
		case "filter":
			p.skip()
			at := p.pos
			op := p.ident()
			var f abi.FilterOp
			var names []string
			for c := abi.FilterEq; c <= abi.FilterExists; c++ {
				names = append(names, c.String())
				if c.String() == op {
					f = c
				}
			}
			if f == 0 {
				return nil, p.errAt(at, "unknown filter %q; filters: %s", op, strings.Join(names, ", "))
			}
			if f != abi.FilterExists {
				if err := p.expect(','); err != nil {
					return nil, err
				}
				if v, err = p.value(); err != nil {
					return nil, err
				}
			}
			path = path.Filter(f, v)
		case "view":
			p.skip()
			at := p.pos
			switch fn := p.ident(); fn {
			case "size":
				path = path.View(abi.ViewSize)
			case "count":
				path = path.View(abi.ViewCount)
			default:
				return nil, p.errAt(at, "unknown view %q; views: size, count", fn)
			}
		default:
			return nil, p.errAt(start, "unknown navigator %q; navigators: %s", name, navigators)
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
	}
	return path, nil
}

func (p *parser) sortedRange(path abi.Path) (abi.Path, error) {
	var bounds [2]abi.Value
	for j := range bounds {
		if j > 0 {
			if err := p.expect(','); err != nil {
				return nil, err
			}
		}
		p.skip()
		save := p.pos
		if p.ident() != "open" {
			p.pos = save
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			bounds[j] = v
		}
	}
	var o abi.RangeOpts
	for p.eat(',') {
		p.skip()
		at := p.pos
		switch id := p.ident(); id {
		case "excludeFrom":
			o.ExcludeFrom = true
		case "includeTo":
			o.IncludeTo = true
		case "reverse":
			o.Reverse = true
		case "limit":
			if err := p.expect('='); err != nil {
				return nil, err
			}
			p.skip()
			vat := p.pos
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			l, ok := v.AsInt()
			if !ok || l < 0 || l > math.MaxInt32 {
				return nil, p.errAt(vat, "limit takes an integer from 0 to %d", math.MaxInt32)
			}
			o.Limit = int(l)
		default:
			return nil, p.errAt(at, "unknown sortedRange option %q; options: excludeFrom, includeTo, limit=N, reverse", id)
		}
	}
	return path.SortedRange(bounds[0], bounds[1], o), nil
}

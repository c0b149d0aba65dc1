package squalltest

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Text forms of the host's datadriven PState tests: values as
// Value.String writes them, paths as Path.String, schemas as the storage
// layer renders them.

type textParser struct {
	s   string
	pos int
}

func (p *textParser) errf(format string, args ...any) error {
	return fmt.Errorf("at byte %d of %q: %s", p.pos, p.s, fmt.Sprintf(format, args...))
}

func (p *textParser) peek() byte {
	for p.pos < len(p.s) && unicode.IsSpace(rune(p.s[p.pos])) {
		p.pos++
	}
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *textParser) eat(c byte) bool {
	if p.peek() == c {
		p.pos++
		return true
	}
	return false
}

func (p *textParser) expect(c byte) error {
	if !p.eat(c) {
		return p.errf("want %q", c)
	}
	return nil
}

func (p *textParser) ident() string {
	p.peek()
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c == '+' && p.pos == start || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.pos > start && c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *textParser) value() (squall.Value, error) {
	switch c := p.peek(); {
	case c == '"':
		return p.quoted()
	case c == '[':
		p.pos++
		items, err := p.seq(']')
		return squall.List(items...), err
	case c == '#':
		p.pos++
		if err := p.expect('{'); err != nil {
			return squall.Nil(), err
		}
		items, err := p.seq('}')
		return squall.Set(items...), err
	case c == '{':
		p.pos++
		var es []squall.MapEntry
		for !p.eat('}') {
			if len(es) > 0 {
				if err := p.expect(','); err != nil {
					return squall.Nil(), err
				}
			}
			k, err := p.value()
			if err != nil {
				return squall.Nil(), err
			}
			if err := p.expect(':'); err != nil {
				return squall.Nil(), err
			}
			v, err := p.value()
			if err != nil {
				return squall.Nil(), err
			}
			es = append(es, squall.MapEntry{Key: k, Val: v})
		}
		return squall.Map(es...), nil
	case c == '0' && strings.HasPrefix(p.s[p.pos:], `0x"`):
		p.pos += 2
		v, err := p.quoted()
		if err != nil {
			return v, err
		}
		s, _ := v.AsString()
		b, err := hex.DecodeString(s)
		return squall.Bytes(b), err
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && strings.IndexByte("0123456789.eE+-Inf", p.s[p.pos]) >= 0 {
			p.pos++
		}
		t := p.s[start:p.pos]
		if !strings.ContainsAny(t, ".eIN") {
			i, err := strconv.ParseInt(t, 10, 64)
			return squall.Int(i), err
		}
		f, err := strconv.ParseFloat(t, 64)
		return squall.Float(f), err
	}
	switch w := p.ident(); w {
	case "nil":
		return squall.Nil(), nil
	case "true", "false":
		return squall.Bool(w == "true"), nil
	case "NaN":
		return squall.Float(math.NaN()), nil
	}
	return squall.Nil(), p.errf("not a value")
}

func (p *textParser) quoted() (squall.Value, error) {
	p.peek()
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
			return squall.String(s), err
		}
		p.pos++
	}
	return squall.Nil(), p.errf("unterminated string")
}

func (p *textParser) seq(end byte) ([]squall.Value, error) {
	var out []squall.Value
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

// parsePathText reads the form Path.String writes, with the builder.
func parsePathText(s string) (squall.Path, error) {
	p := &textParser{s: strings.TrimSpace(s)}
	path := squall.P()
	for i := 0; p.peek() != 0; i++ {
		if i > 0 {
			if err := p.expect('.'); err != nil {
				return path, err
			}
		}
		name := p.ident()
		if err := p.expect('('); err != nil {
			return path, err
		}
		var args []squall.Value
		var words []string
		for !p.eat(')') {
			if len(args)+len(words) > 0 {
				if err := p.expect(','); err != nil {
					return path, err
				}
			}
			if c := p.peek(); c >= 'a' && c <= 'z' && !strings.HasPrefix(p.s[p.pos:], "nil") &&
				!strings.HasPrefix(p.s[p.pos:], "true") && !strings.HasPrefix(p.s[p.pos:], "false") {
				w := p.ident()
				if w == "open" {
					args = append(args, squall.Nil())
					continue
				}
				if p.eat('=') {
					v, err := p.value()
					if err != nil {
						return path, err
					}
					n, _ := v.AsInt()
					w += "=" + strconv.FormatInt(n, 10)
				}
				words = append(words, w)
				continue
			}
			v, err := p.value()
			if err != nil {
				return path, err
			}
			args = append(args, v)
		}
		arg := func(i int) squall.Value {
			if i < len(args) {
				return args[i]
			}
			return squall.Nil()
		}
		switch name {
		case "key":
			path = path.Key(arg(0))
		case "mustKey":
			path = path.MustKey(arg(0))
		case "nilToVal":
			path = path.NilToVal(arg(0))
		case "set":
			path = path.Set(arg(0))
		case "merge":
			path = path.Merge(arg(0))
		case "incr":
			if f, ok := arg(0).AsFloat(); ok {
				path = path.IncrFloat(f)
			} else {
				n, _ := arg(0).AsInt()
				path = path.Incr(n)
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
			n, _ := arg(0).AsInt()
			path = path.Nth(int(n))
		case "append", "prepend":
			xs := make([]any, len(args))
			for i, a := range args {
				xs[i] = a
			}
			if name == "append" {
				path = path.Append(xs...)
			} else {
				path = path.Prepend(xs...)
			}
		case "sortedRange":
			var o squall.RangeOpts
			for _, w := range words {
				switch {
				case w == "excludeFrom":
					o.ExcludeFrom = true
				case w == "includeTo":
					o.IncludeTo = true
				case w == "reverse":
					o.Reverse = true
				case strings.HasPrefix(w, "limit="):
					o.Limit, _ = strconv.Atoi(w[6:])
				}
			}
			from, to := arg(0), arg(1)
			path = path.SortedRangeWith(from, to, o)
		case "filter":
			ops := map[string]squall.FilterOp{"eq": squall.Eq, "ne": squall.Ne, "lt": squall.Lt, "le": squall.Le, "gt": squall.Gt, "ge": squall.Ge}
			if len(words) > 0 && words[0] == "exists" {
				path = path.FilterExists()
			} else {
				path = path.Filter(ops[words[0]], arg(0))
			}
		case "view":
			if words[0] == "size" {
				path = path.View(squall.ViewSize)
			} else {
				path = path.View(squall.ViewCount)
			}
		default:
			return path, p.errf("unknown navigator %q", name)
		}
	}
	return path, nil
}

// parseSchemaText reads the storage layer's schema text into the ABI form,
// through the SDK's schema builders.
func parseSchemaText(s string) (squall.Schema, error) {
	p := &textParser{s: strings.TrimSpace(s)}
	sc, err := p.schema()
	if err == nil && p.peek() != 0 {
		err = p.errf("trailing text")
	}
	return sc, err
}

func (p *textParser) schema() (squall.Schema, error) {
	var sc squall.Schema
	switch name := p.ident(); name {
	case "map":
		if err := p.expect('('); err != nil {
			return sc, err
		}
		k, err := p.schema()
		if err != nil {
			return sc, err
		}
		if err := p.expect(','); err != nil {
			return sc, err
		}
		v, err := p.schema()
		if err != nil {
			return sc, err
		}
		if err := p.expect(')'); err != nil {
			return sc, err
		}
		sc = squall.MapOf(k, v)
	case "set", "list":
		if err := p.expect('('); err != nil {
			return sc, err
		}
		el, err := p.schema()
		if err != nil {
			return sc, err
		}
		if err := p.expect(')'); err != nil {
			return sc, err
		}
		if name == "set" {
			sc = squall.SetOf(el)
		} else {
			sc = squall.ListOf(el)
		}
	case "record":
		if err := p.expect('{'); err != nil {
			return sc, err
		}
		var fields []squall.SchemaField
		for !p.eat('}') {
			if len(fields) > 0 {
				if err := p.expect(','); err != nil {
					return sc, err
				}
			}
			var fname string
			if p.peek() == '"' {
				v, err := p.quoted()
				if err != nil {
					return sc, err
				}
				fname, _ = v.AsString()
			} else {
				fname = p.ident()
			}
			if err := p.expect(':'); err != nil {
				return sc, err
			}
			fs, err := p.schema()
			if err != nil {
				return sc, err
			}
			fields = append(fields, squall.Field(fname, fs))
		}
		sc = squall.RecordOf(fields...)
	case "any":
		sc = squall.AnyT
	case "bool":
		sc = squall.BoolT
	case "int":
		sc = squall.IntT
	case "float":
		sc = squall.FloatT
	case "string":
		sc = squall.StringT
	case "bytes":
		sc = squall.BytesT
	default:
		return sc, p.errf("unknown schema type %q", name)
	}
	if strings.HasPrefix(p.s[p.pos:], ".subindexed") {
		p.pos += len(".subindexed")
		sc = sc.Subindexed()
	}
	return sc, nil
}

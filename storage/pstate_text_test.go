package storage

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/squall-run/squall/abi"
)

// Text forms used by the datadriven tests: values as abi.Value.String
// writes them, paths as abi.Path.String writes them, schemas as
// Schema.String writes them.

type textParser struct {
	s   string
	pos int
}

func (p *textParser) errf(format string, args ...any) error {
	return fmt.Errorf("at byte %d of %q: %s", p.pos, p.s, fmt.Sprintf(format, args...))
}

func (p *textParser) skip() {
	for p.pos < len(p.s) && unicode.IsSpace(rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *textParser) peek() byte {
	p.skip()
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

func parseValueText(s string) (abi.Value, error) {
	p := &textParser{s: s}
	v, err := p.value()
	if err != nil {
		return abi.Nil(), err
	}
	if p.peek() != 0 {
		return abi.Nil(), p.errf("trailing text")
	}
	return v, nil
}

func (p *textParser) value() (abi.Value, error) {
	c := p.peek()
	switch {
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
		p.pos++
		p.pos++
		q, err := p.quoted()
		if err != nil {
			return abi.Nil(), err
		}
		hs, _ := q.AsString()
		b, err := hex.DecodeString(hs)
		if err != nil {
			return abi.Nil(), p.errf("bad hex: %v", err)
		}
		return abi.Bytes(b), nil
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && strings.IndexByte("0123456789.eE+-InfNa", p.s[p.pos]) >= 0 {
			p.pos++
		}
		lit := p.s[start:p.pos]
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return abi.Int(i), nil
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return abi.Nil(), p.errf("bad number %q", lit)
		}
		return abi.Float(f), nil
	}
	switch id := p.ident(); id {
	case "nil":
		return abi.Nil(), nil
	case "true":
		return abi.Bool(true), nil
	case "false":
		return abi.Bool(false), nil
	case "NaN":
		return abi.Float(nan()), nil
	default:
		return abi.Nil(), p.errf("unexpected %q", id)
	}
}

func nan() float64 { f, _ := strconv.ParseFloat("NaN", 64); return f }

func (p *textParser) quoted() (abi.Value, error) {
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
				return abi.Nil(), p.errf("bad string: %v", err)
			}
			return abi.String(s), nil
		}
		p.pos++
	}
	return abi.Nil(), p.errf("unterminated string")
}

func (p *textParser) seq(end byte) ([]abi.Value, error) {
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

// parsePathText reads the form abi.Path.String writes.
func parsePathText(s string) (abi.Path, error) {
	p := &textParser{s: strings.TrimSpace(s)}
	var path abi.Path
	for p.peek() != 0 {
		if len(path) > 0 {
			if err := p.expect('.'); err != nil {
				return nil, err
			}
		}
		name := p.ident()
		if err := p.expect('('); err != nil {
			return nil, err
		}
		arg := func() (abi.Value, error) { return p.value() }
		var err error
		var v abi.Value
		switch name {
		case "key", "mustKey", "nilToVal", "set", "merge":
			if v, err = arg(); err != nil {
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
			}
		case "incr":
			if v, err = arg(); err != nil {
				return nil, err
			}
			path = append(path, abi.Nav{Op: abi.OpIncr, Arg: v})
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
			if v, err = arg(); err != nil {
				return nil, err
			}
			i, _ := v.AsInt()
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
			var bounds [2]abi.Value
			for j := range bounds {
				if j > 0 {
					if err := p.expect(','); err != nil {
						return nil, err
					}
				}
				save := p.pos
				if p.ident() != "open" {
					p.pos = save
					if bounds[j], err = arg(); err != nil {
						return nil, err
					}
				}
			}
			var o abi.RangeOpts
			for p.eat(',') {
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
					v, err := arg()
					if err != nil {
						return nil, err
					}
					l, _ := v.AsInt()
					o.Limit = int(l)
				default:
					return nil, p.errf("unknown range option %q", id)
				}
			}
			path = path.SortedRange(bounds[0], bounds[1], o)
		case "filter":
			op := p.ident()
			var f abi.FilterOp
			for c := abi.FilterEq; c <= abi.FilterExists; c++ {
				if c.String() == op {
					f = c
				}
			}
			if f == 0 {
				return nil, p.errf("unknown filter %q", op)
			}
			if f != abi.FilterExists {
				if err := p.expect(','); err != nil {
					return nil, err
				}
				if v, err = arg(); err != nil {
					return nil, err
				}
			}
			path = path.Filter(f, v)
		case "view":
			fn := p.ident()
			switch fn {
			case "size":
				path = path.View(abi.ViewSize)
			case "count":
				path = path.View(abi.ViewCount)
			default:
				return nil, p.errf("unknown view %q", fn)
			}
		default:
			return nil, p.errf("unknown navigator %q", name)
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
	}
	return path, nil
}

// parseSchemaText reads the form Schema.String writes.
func parseSchemaText(s string) (Schema, error) {
	p := &textParser{s: strings.TrimSpace(s)}
	sc, err := p.schema()
	if err != nil {
		return Schema{}, err
	}
	if p.peek() != 0 {
		return Schema{}, p.errf("trailing text")
	}
	return sc, nil
}

func (p *textParser) schema() (Schema, error) {
	var sc Schema
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
		sc = MapOf(k, v)
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
			sc = SetOf(el)
		} else {
			sc = ListOf(el)
		}
	case "record":
		if err := p.expect('{'); err != nil {
			return sc, err
		}
		var fields []Field
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
			fields = append(fields, Field{Name: fname, Schema: fs})
		}
		sc = RecordOf(fields...)
	default:
		t := typeByName(name)
		if t == 0 {
			return sc, p.errf("unknown type %q", name)
		}
		sc = Leaf(t)
	}
	if strings.HasPrefix(p.s[p.pos:], ".subindexed") {
		p.pos += len(".subindexed")
		if sc.n.typ.IsLeaf() || sc.n.typ == TypeRecord {
			c := *sc.n
			c.subindexed = true
			sc = Schema{&c}
		} else {
			sc = sc.Subindexed()
		}
	}
	return sc, nil
}

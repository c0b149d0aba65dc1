package storage

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/pathtext"
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

// parseValueText reads the form abi.Value.String writes (the CLI's value
// text form).
func parseValueText(s string) (abi.Value, error) { return pathtext.ParseValue(strings.TrimSpace(s)) }

// parsePathText reads the form abi.Path.String writes (the CLI's path
// syntax).
func parsePathText(s string) (abi.Path, error) { return pathtext.Parse(strings.TrimSpace(s)) }

// quoted reads a Go-quoted string (a record field name in a schema).
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

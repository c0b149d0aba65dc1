// Package interrupt makes a WebAssembly module interruptible at a low
// cost. It rewrites the binary so that every loop iteration and every
// function call (the only ways code can run for long) decrements a budget
// held in a global of the module, and calls an imported host function,
// the tick, each time the budget runs out. The tick checks the call's
// deadline and whether the instance was closed, and traps the guest when
// it must stop; otherwise it returns the next budget.
//
// This replaces wazero's WithCloseOnContextDone, which makes compiled
// code leave native code for Go at every loop back-edge (wazero issue
// #2466). Go guests branch through their loop headers at every jump, so
// that exit costs them about 4x. Here the common case is a decrement, a
// store and a not-taken branch inline, and the exit to Go happens once per
// budget. The exit is also what keeps the host's Go scheduler and garbage
// collector working: native code cannot be preempted, so a guest must
// come back to Go regularly, which the tick guarantees within one budget
// of checks.
//
// The rewrite adds, after the existing imports, the function import
// ImportModule.ImportName of type () -> i32 (so every defined function's
// index grows by one, everywhere it appears), an i32 global holding the
// budget, and the checks. It drops DWARF sections, whose code offsets it
// would invalidate, and renumbers the function names of the name section.
// Code of the module as written that names a global or a type past its
// own is rejected: after the rewrite it would name the budget or the
// tick's type, and a module that could reset its budget could loop
// forever.
//
// It accepts the features of WebAssembly 2.0 (what wazero's
// CoreFeaturesV2 enables) and rejects the rest (threads, exceptions, tail
// calls, GC, memory64, multiple memories) with an error naming the
// instruction or section.
package interrupt

import (
	"errors"
	"fmt"
	"strings"
)

// ImportModule and ImportName name the tick function the rewritten module
// imports. Guests cannot import it themselves: the host accepts only the
// squall_v1 and WASI import modules in the original binary.
const (
	ImportModule = "squall$internal"
	ImportName   = "tick"
)

// DefaultBudget is the number of checks (loop iterations and function
// calls) between two ticks, and the initial budget.
const DefaultBudget = 1 << 14

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionOrder is the position of each known section id in a module.
var sectionOrder = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

// UnsupportedError reports a module that uses something outside
// WebAssembly 2.0 (as wazero's CoreFeaturesV2 defines it). Other errors
// of Instrument report malformed binaries.
type UnsupportedError struct{ Msg string }

func (e *UnsupportedError) Error() string { return e.Msg }

func unsupportedf(format string, args ...any) error {
	return &UnsupportedError{Msg: fmt.Sprintf(format, args...)}
}

type section struct {
	id   byte
	body []byte
	name string // custom sections
}

// Instrument returns the rewritten module. budget is the initial value of
// the budget global (use DefaultBudget).
func Instrument(wasm []byte, budget int32) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, errors.New("not a WebAssembly 1.0 binary")
	}
	var secs []section
	r := &reader{b: wasm, off: 8}
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		s := section{id: id, body: body}
		if id == secCustom {
			cr := &reader{b: body}
			s.name = cr.name()
			if cr.err != nil {
				return nil, fmt.Errorf("custom section: %w", cr.err)
			}
		} else if _, ok := sectionOrder[id]; !ok {
			return nil, fmt.Errorf("unknown section id %d", id)
		}
		if id == secTag {
			return nil, unsupportedf("the module uses exception handling (a tag section)")
		}
		secs = append(secs, s)
	}

	m := &rewriter{budget: budget}
	if err := m.scan(secs); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(wasm)+len(wasm)/8+64)
	out = append(out, wasm[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	have := map[byte]bool{}
	for _, s := range secs {
		have[s.id] = true
	}
	// The sections the rewrite needs that the module lacks are created in
	// their place in the section order.
	var missing []byte
	for _, id := range []byte{secType, secImport, secGlobal} {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	addMissing := func(before int) error {
		for len(missing) > 0 && sectionOrder[missing[0]] < before {
			body, err := m.section(missing[0], nil)
			if err != nil {
				return err
			}
			emit(missing[0], body)
			missing = missing[1:]
		}
		return nil
	}
	for _, s := range secs {
		if s.id == secCustom {
			switch {
			case strings.HasPrefix(s.name, ".debug_") || s.name == "external_debug_info" || s.name == "sourceMappingURL":
				continue // code offsets no longer match
			case s.name == "name":
				body, err := m.names(s.body)
				if err != nil {
					continue // a malformed name section is dropped, as wazero would ignore it
				}
				emit(secCustom, body)
			default:
				emit(secCustom, s.body)
			}
			continue
		}
		if err := addMissing(sectionOrder[s.id]); err != nil {
			return nil, err
		}
		body, err := m.section(s.id, s.body)
		if err != nil {
			return nil, err
		}
		emit(s.id, body)
	}
	if err := addMissing(1 << 30); err != nil {
		return nil, err
	}
	return out, nil
}

// rewriter holds what the rewrite learns from the module.
type rewriter struct {
	budget        int32
	types         uint32 // number of types: the tick's type index
	importFuncs   uint32 // imported functions: the tick's function index
	importGlobals uint32
	globals       uint32 // defined globals
}

// Limits on what a module may declare, so that a few bytes cannot make
// the compiler allocate gigabytes (wazero sizes its tables by the counts
// it reads).
const (
	maxLocalsPerFunction = 50000
	maxLocals            = 1 << 24 // in all functions
)

// scan checks the structure of every section (every count against the
// bytes left, the local counts against the limits) and counts types,
// imported functions and globals.
func (m *rewriter) scan(secs []section) error {
	var locals uint64
	for _, s := range secs {
		r := &reader{b: s.body}
		var err error
		switch s.id {
		case secType:
			m.types = r.count()
			for i := uint32(0); i < m.types && r.err == nil; i++ {
				if form := r.byte(); form != 0x60 {
					return unsupportedf("type %d has form 0x%02x; WebAssembly 2.0 has only function types (0x60)", i, form)
				}
				for range 2 { // params, results
					n := r.count()
					for j := uint32(0); j < n && r.err == nil; j++ {
						err = r.valType()
					}
				}
			}
		case secImport:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil && err == nil; i++ {
				r.name()
				r.name()
				switch kind := r.byte(); kind {
				case 0:
					r.u32()
					m.importFuncs++
				case 1:
					err = r.valType()
					r.limits()
				case 2:
					r.limits()
				case 3:
					err = r.valType()
					r.byte()
					m.importGlobals++
				default:
					err = unsupportedf("import of kind 0x%02x (WebAssembly 2.0 imports functions, tables, memories and globals)", kind)
				}
			}
		case secFunction:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.u32()
			}
		case secTable:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil && err == nil; i++ {
				err = r.valType()
				r.limits()
			}
		case secMemory:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.limits()
			}
		case secGlobal:
			m.globals = r.count()
			for i := uint32(0); i < m.globals && r.err == nil && err == nil; i++ {
				if err = r.valType(); err == nil {
					r.byte()
					_, err = m.constExpr(nil, r)
				}
			}
		case secExport:
			_, err = m.exports(r)
		case secStart, secDataCount:
			r.u32()
		case secElement:
			_, err = m.elements(r)
		case secCode:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				fr := &reader{b: r.bytes(int(r.u32()))}
				if r.err != nil {
					break
				}
				groups := fr.count()
				var fl uint64
				for j := uint32(0); j < groups && fr.err == nil && err == nil; j++ {
					fl += uint64(fr.u32())
					err = fr.valType()
				}
				if err == nil {
					err = fr.err
				}
				locals += fl
				switch {
				case err != nil:
				case fl > maxLocalsPerFunction:
					err = fmt.Errorf("function %d declares %d locals; the limit is %d", m.importFuncs+i, fl, maxLocalsPerFunction)
				case locals > maxLocals:
					err = fmt.Errorf("the functions declare more than %d locals in all", maxLocals)
				}
				if err != nil {
					break
				}
			}
		case secData:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil && err == nil; i++ {
				switch flags := r.u32(); flags {
				case 0:
					_, err = m.constExpr(nil, r)
				case 1:
				case 2:
					r.u32()
					_, err = m.constExpr(nil, r)
				default:
					err = fmt.Errorf("data segment %d has unknown flags %d", i, flags)
				}
				r.bytes(int(r.count()))
			}
		}
		if err == nil {
			err = r.err
		}
		if err == nil && s.id != secCustom && !r.done() {
			err = fmt.Errorf("%d bytes after the last entry", len(r.b)-r.off)
		}
		if err != nil {
			return fmt.Errorf("section %d: %w", s.id, err)
		}
	}
	return nil
}

// fn renumbers a function index: the tick is inserted after the imports.
func (m *rewriter) fn(i uint32) uint32 {
	if i >= m.importFuncs {
		return i + 1
	}
	return i
}

// section returns the rewritten body of section id (body is nil for a
// section the module lacks).
func (m *rewriter) section(id byte, body []byte) ([]byte, error) {
	r := &reader{b: body}
	var out []byte
	var err error
	switch id {
	case secType:
		n := uint32(0)
		if body != nil {
			n = r.u32()
		}
		out = appendU32(nil, n+1)
		out = append(out, r.rest()...)
		out = append(out, 0x60, 0, 1, 0x7f) // () -> i32
	case secImport:
		n := uint32(0)
		if body != nil {
			n = r.u32()
		}
		out = appendU32(nil, n+1)
		out = append(out, r.rest()...)
		out = appendName(out, ImportModule)
		out = appendName(out, ImportName)
		out = append(out, 0)
		out = appendU32(out, m.types)
	case secGlobal:
		n := uint32(0)
		if body != nil {
			n = r.u32()
		}
		out = appendU32(nil, n+1)
		for i := uint32(0); i < n && err == nil; i++ {
			out = append(out, r.byte(), r.byte()) // type, mutability
			out, err = m.constExpr(out, r)
		}
		out = append(out, 0x7f, 1, 0x41) // mut i32 = i32.const budget
		out = appendS64(out, int64(m.budget))
		out = append(out, 0x0b)
	case secExport:
		out, err = m.exports(r)
	case secStart:
		out = appendU32(nil, m.fn(r.u32()))
	case secElement:
		out, err = m.elements(r)
	case secCode:
		out, err = m.code(r)
	default:
		return body, nil
	}
	if err == nil {
		err = r.err
	}
	if err != nil {
		return nil, fmt.Errorf("section %d: %w", id, err)
	}
	return out, nil
}

func (m *rewriter) exports(r *reader) ([]byte, error) {
	n := r.count()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = appendName(out, r.name())
		kind := r.byte()
		idx := r.u32()
		switch kind {
		case 0:
			idx = m.fn(idx)
		case 3:
			if r.err == nil && idx >= m.importGlobals+m.globals {
				return nil, fmt.Errorf("export of global %d, which does not exist: the module has %d globals", idx, m.importGlobals+m.globals)
			}
		}
		out = append(out, kind)
		out = appendU32(out, idx)
	}
	return out, r.err
}

// elements rewrites the element section (the eight segment encodings of
// WebAssembly 2.0).
func (m *rewriter) elements(r *reader) ([]byte, error) {
	n := r.count()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d: unknown flags %d", i, flags)
		}
		out = appendU32(out, flags)
		if flags&1 == 0 { // active: an offset expression
			if flags&2 != 0 {
				out = appendU32(out, r.u32()) // table index
			}
			var err error
			if out, err = m.constExpr(out, r); err != nil {
				return nil, err
			}
		}
		exprs := flags&4 != 0
		if flags&3 != 0 { // elemkind or reftype
			out = append(out, r.byte())
		}
		count := r.count()
		out = appendU32(out, count)
		for j := uint32(0); j < count && r.err == nil; j++ {
			if exprs {
				var err error
				if out, err = m.constExpr(out, r); err != nil {
					return nil, err
				}
			} else {
				out = appendU32(out, m.fn(r.u32()))
			}
		}
	}
	return out, r.err
}

// constExpr copies a constant expression up to its end, renumbering
// ref.func.
func (m *rewriter) constExpr(out []byte, r *reader) ([]byte, error) {
	for r.err == nil {
		start := r.off
		op := r.byte()
		switch op {
		case 0x0b:
			return append(out, op), nil
		case 0xd2:
			out = append(out, op)
			out = appendU32(out, m.fn(r.u32()))
			continue
		}
		if err := m.checkIndexes(r, op); err != nil {
			return nil, err
		}
		if err := skipImmediates(r, op); err != nil {
			return nil, err
		}
		out = append(out, r.b[start:r.off]...)
	}
	return out, r.err
}

// checkIndexes fails when instruction op, whose immediates r is at, names
// a global or a type the module as written does not have: the rewrite
// adds the budget global and the tick's type after the module's own, so
// such an index, invalid in the module, would name them. (Function
// indexes are renumbered around the tick instead.) It does not advance r.
func (m *rewriter) checkIndexes(r *reader, op byte) error {
	peek := &reader{b: r.b, off: r.off}
	switch op {
	case 0x23, 0x24: // global.get, global.set
		if i := peek.u32(); peek.err == nil && i >= m.importGlobals+m.globals {
			return fmt.Errorf("global %d does not exist: the module has %d globals", i, m.importGlobals+m.globals)
		}
	case 0x11: // call_indirect
		if i := peek.u32(); peek.err == nil && i >= m.types {
			return fmt.Errorf("type %d does not exist: the module has %d types", i, m.types)
		}
	case 0x02, 0x03, 0x04: // block types may be type indexes
		if peek.off < len(peek.b) {
			switch peek.b[peek.off] {
			case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
				return nil
			}
		}
		if i := peek.s33(); peek.err == nil && (i < 0 || i >= int64(m.types)) {
			return fmt.Errorf("block type %d does not exist: the module has %d types", i, m.types)
		}
	}
	return nil
}

// check is the inline budget check: decrement the budget and call the
// tick when it reaches zero, which returns the next budget.
func (m *rewriter) check(out []byte) []byte {
	g := m.importGlobals + m.globals // the budget
	out = append(out, 0x23)          // global.get
	out = appendU32(out, g)
	out = append(out, 0x41, 0x01, 0x6b, 0x24) // i32.const 1, i32.sub, global.set
	out = appendU32(out, g)
	out = append(out, 0x23) // global.get
	out = appendU32(out, g)
	out = append(out, 0x45, 0x04, 0x40, 0x10) // i32.eqz, if, call
	out = appendU32(out, m.importFuncs)
	out = append(out, 0x24) // global.set
	out = appendU32(out, g)
	return append(out, 0x0b) // end
}

func (m *rewriter) code(r *reader) ([]byte, error) {
	n := r.count()
	out := appendU32(nil, n)
	var body []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		fr := &reader{b: r.bytes(int(size))}
		if r.err != nil {
			break
		}
		var err error
		if body, err = m.function(body[:0], fr); err != nil {
			return nil, fmt.Errorf("function %d: %w", m.importFuncs+i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, r.err
}

// function rewrites one function body.
func (m *rewriter) function(out []byte, r *reader) ([]byte, error) {
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()  // count
		r.byte() // type
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, r.b[:r.off]...)
	// A body that starts with a loop (every Go function does) is checked
	// by the loop's header.
	if r.done() || r.b[r.off] != 0x03 {
		out = m.check(out)
	}
	for !r.done() {
		start := r.off
		op := r.byte()
		switch op {
		case 0x10, 0xd2: // call, ref.func
			out = append(out, op)
			out = appendU32(out, m.fn(r.u32()))
			continue
		}
		if err := m.checkIndexes(r, op); err != nil {
			return nil, fmt.Errorf("at byte %d: %w", start, err)
		}
		if err := skipImmediates(r, op); err != nil {
			return nil, fmt.Errorf("at byte %d: %w", start, err)
		}
		out = append(out, r.b[start:r.off]...)
		if op == 0x03 { // loop: the check runs at every iteration
			out = m.check(out)
		}
	}
	return out, r.err
}

// skipImmediates advances r past the immediates of instruction op.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		r.blockType()
	case op == 0x0c || op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		n := r.count()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x10: // call
		r.u32()
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.count()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.byte()
		}
	case op >= 0x20 && op <= 0x26: // locals, globals, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		if r.u32() != 0 {
			return unsupportedf("multiple memories are not part of WebAssembly 2.0")
		}
	case op == 0x41:
		r.s64()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null t
		r.byte()
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		return skipMisc(r)
	case op == 0xfd:
		return skipSIMD(r)
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b ||
		(op >= 0x45 && op <= 0xc4) || op == 0xd1:
		// No immediates.
	default:
		return unsupportedf("instruction 0x%02x is not part of WebAssembly 2.0 (threads, exceptions, tail calls and GC are not supported)", op)
	}
	return r.err
}

func skipMisc(r *reader) error {
	switch sub := r.u32(); {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init data mem
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy mem mem
		r.u32()
		r.u32()
	case sub == 11: // memory.fill mem
		r.u32()
	case sub == 12: // table.init elem table
		r.u32()
		r.u32()
	case sub == 13: // elem.drop
		r.u32()
	case sub == 14: // table.copy t t
		r.u32()
		r.u32()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.u32()
	default:
		return unsupportedf("instruction 0xfc %d is not part of WebAssembly 2.0", sub)
	}
	return r.err
}

func skipSIMD(r *reader) error {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads, store, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 255:
		// No immediates.
	default:
		return unsupportedf("instruction 0xfd %d is not part of WebAssembly 2.0 SIMD", sub)
	}
	return r.err
}

// names renumbers the function-indexed subsections of a name section.
func (m *rewriter) names(body []byte) ([]byte, error) {
	r := &reader{b: body}
	out := appendName(nil, r.name())
	for !r.done() && r.err == nil {
		id := r.byte()
		size := r.u32()
		sub := &reader{b: r.bytes(int(size))}
		if r.err != nil {
			break
		}
		var nb []byte
		switch id {
		case 1: // function names
			n := sub.count()
			nb = appendU32(nil, n)
			for i := uint32(0); i < n && sub.err == nil; i++ {
				nb = appendU32(nb, m.fn(sub.u32()))
				nb = appendName(nb, sub.name())
			}
		case 2, 3: // local names, label names: indirect name maps by function
			n := sub.count()
			nb = appendU32(nil, n)
			for i := uint32(0); i < n && sub.err == nil; i++ {
				nb = appendU32(nb, m.fn(sub.u32()))
				start := sub.off
				k := sub.count()
				for j := uint32(0); j < k && sub.err == nil; j++ {
					sub.u32()
					sub.name()
				}
				nb = append(nb, sub.b[start:sub.off]...)
			}
		default:
			nb = sub.b
		}
		if sub.err != nil {
			return nil, sub.err
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
	}
	return out, r.err
}

// reader reads a binary; the first error sticks and makes later reads
// return zeros.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) unsupported(format string, args ...any) {
	if r.err == nil {
		r.err = unsupportedf(format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail("%d bytes overrun the input", n)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) rest() []byte {
	if r.err != nil || r.b == nil {
		return nil
	}
	b := r.b[r.off:]
	r.off = len(r.b)
	return b
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.fail("LEB128 overflows 32 bits")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("LEB128 longer than 5 bytes")
	return 0
}

// s33 reads a signed LEB128 of up to 33 bits (a block type index).
func (r *reader) s33() int64 {
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.fail("LEB128 longer than 5 bytes")
	return 0
}

// s64 skips a signed LEB128 of up to 64 bits (also used for i32.const
// and for block types).
func (r *reader) s64() {
	for i := 0; i < 10; i++ {
		c := r.byte()
		if r.err != nil || c&0x80 == 0 {
			return
		}
	}
	r.fail("LEB128 longer than 10 bytes")
}

// count reads the length of a vector whose entries take at least a byte
// each, and fails when fewer bytes are left.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("a count of %d overruns the %d bytes left", n, len(r.b)-r.off)
		return 0
	}
	return n
}

// valType reads a value type of WebAssembly 2.0.
func (r *reader) valType() error {
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	default:
		if r.err != nil {
			return r.err
		}
		return unsupportedf("value type 0x%02x is not part of WebAssembly 2.0", t)
	}
}

func (r *reader) name() string {
	n := r.count()
	return string(r.bytes(int(n)))
}

func (r *reader) limits() {
	flags := r.byte()
	if flags&^1 != 0 {
		r.unsupported("limits flags 0x%02x: shared and 64-bit memories are not part of WebAssembly 2.0", flags)
		return
	}
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.unsupported("multiple memories are not part of WebAssembly 2.0")
		return
	}
	r.u32() // offset
}

// blockType skips a block type: 0x40, a value type, or an s33 type index.
func (r *reader) blockType() {
	if r.err != nil {
		return
	}
	if r.off < len(r.b) {
		switch c := r.b[r.off]; c {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.off++
			return
		}
	}
	r.s64()
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

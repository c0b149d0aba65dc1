package abi

import (
	"math"
	"strconv"
)

// Query is one read of a query frame (ABI.md §6.5): a path run against the
// local partition of a PState, or (1.1, §15.7) the invocation of a query
// topology.
type Query struct {
	// Op is QuerySelect, QuerySelectOne or (1.1) QueryInvoke.
	Op QueryOp
	// PState is the PState's index in the module definition; for
	// QueryInvoke, the query's index in its queries (the same u16 field).
	PState uint16
	// Path is the select path in its Value form ([Path.Value]); for
	// QueryInvoke, the argument list (the same body field).
	Path Value
}

// QueryFrame is the frame a guest passes to query.
type QueryFrame struct {
	Queries []Query
}

// Append appends the encoding of f to dst. It fails with a [*FrameError]
// when a query is invalid or the frame would exceed [MaxQueryFrame].
func (f *QueryFrame) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	if uint64(len(f.Queries)) > math.MaxUint32 {
		return dst, encodeFail(FrameQuery, -1, ErrTooLarge, nil, "too many queries")
	}
	b := appendFrameHeader(dst, FrameQuery, 0, len(f.Queries))
	for i := range f.Queries {
		q := &f.Queries[i]
		if q.Op < QuerySelect || q.Op > QueryInvoke {
			return dst, encodeFail(FrameQuery, i, ErrUnknownCode, nil, "unknown query op "+strconv.Itoa(int(q.Op)))
		}
		if q.Op == QueryInvoke && q.Path.Kind() != KindList {
			return dst, encodeFail(FrameQuery, i, ErrBadValue, nil, "INVOKE arguments must be a list, not "+q.Path.Kind().String())
		}
		b = appendU32(b, 0)
		b = append(b, byte(q.Op), 0)
		b = appendU16(b, q.PState)
		bodyAt := len(b)
		var err error
		if b, err = appendFrameValue(b, FrameQuery, i, q.Path, "path"); err != nil {
			return dst, err
		}
		if b, err = patchLen(b, FrameQuery, i, bodyAt-QueryItemHeaderSize, bodyAt); err != nil {
			return dst, err
		}
	}
	if err := checkFrameSize(b, start, FrameQuery, MaxQueryFrame); err != nil {
		return dst, err
	}
	return b, nil
}

// DecodeQuery decodes a query frame. It checks the structure and that each
// path is a well-formed MessagePack value, not that it is a valid path
// (the host reports that per query, as EPATH).
func DecodeQuery(b []byte) (*QueryFrame, error) {
	r := frameReader{b: b, kind: FrameQuery}
	if err := r.header(QueryHeaderSize, MaxQueryFrame); err != nil {
		return nil, err
	}
	if fl := r.u16(2); fl != 0 {
		return nil, r.fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
	}
	n, ferr := r.count(QueryHeaderSize, QueryItemHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	f := &QueryFrame{}
	if n > 0 {
		f.Queries = make([]Query, n)
	}
	p := QueryHeaderSize
	for i := range f.Queries {
		if err := r.need(i, p, QueryItemHeaderSize, "query header"); err != nil {
			return nil, err
		}
		q := &f.Queries[i]
		size := r.u32(p)
		q.Op = QueryOp(r.u8(p + 4))
		if q.Op < QuerySelect || q.Op > QueryInvoke {
			return nil, r.fail(i, p+4, ErrUnknownCode, "unknown query op "+strconv.Itoa(int(q.Op))+"; use 1 (SELECT), 2 (SELECT_ONE) or 3 (INVOKE)")
		}
		if fl := r.u8(p + 5); fl != 0 {
			return nil, r.fail(i, p+5, ErrReserved, "query flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
		}
		q.PState = r.u16(p + 6)
		body, err := r.body(i, p+QueryItemHeaderSize, size)
		if err != nil {
			return nil, err
		}
		if q.Path, err = r.value(i, p+QueryItemHeaderSize, body, "path"); err != nil {
			return nil, err
		}
		if q.Op == QueryInvoke && q.Path.Kind() != KindList {
			return nil, r.fail(i, p+QueryItemHeaderSize, ErrBadValue, "INVOKE arguments must be a list, not "+q.Path.Kind().String())
		}
		p += QueryItemHeaderSize + len(body)
	}
	if p != len(b) {
		return nil, r.fail(-1, p, ErrTrailing, strconv.Itoa(len(b)-p)+" bytes after the last query")
	}
	return f, nil
}

// Result is the answer to one query.
type Result struct {
	// Status is ResultOK, ResultNotFound or a negative [Errno].
	Status int32
	// Value is the result when Status is ResultOK: the list of values for
	// SELECT, the value for SELECT_ONE.
	Value Value
	// Message says what went wrong when Status is an Errno.
	Message string
}

// QueryResponse is the frame the host writes into the guest's out buffer
// (or parks for take) in answer to a query frame: one result per query,
// in order.
type QueryResponse struct {
	Results []Result
}

// Append appends the encoding of f to dst. It fails with a [*FrameError]
// when a result is invalid or the frame would exceed [MaxResponseFrame]
// (a host answers ETOOBIG instead).
func (f *QueryResponse) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	if uint64(len(f.Results)) > math.MaxUint32 {
		return dst, encodeFail(FrameResponse, -1, ErrTooLarge, nil, "too many results")
	}
	b := appendFrameHeader(dst, FrameResponse, 0, len(f.Results))
	for i := range f.Results {
		res := &f.Results[i]
		b = appendU32(b, 0)
		b = appendU32(b, uint32(res.Status))
		bodyAt := len(b)
		var err error
		switch {
		case res.Status == ResultOK:
			if b, err = appendFrameValue(b, FrameResponse, i, res.Value, "result"); err != nil {
				return dst, err
			}
		case res.Status == ResultNotFound:
		case res.Status < 0:
			b = append(b, res.Message...)
		default:
			return dst, encodeFail(FrameResponse, i, ErrUnknownCode, nil, "unknown result status "+strconv.Itoa(int(res.Status)))
		}
		if b, err = patchLen(b, FrameResponse, i, bodyAt-ResultHeaderSize, bodyAt); err != nil {
			return dst, err
		}
	}
	if err := checkFrameSize(b, start, FrameResponse, MaxResponseFrame); err != nil {
		return dst, err
	}
	return b, nil
}

// DecodeResponse decodes a response frame.
func DecodeResponse(b []byte) (*QueryResponse, error) {
	r := frameReader{b: b, kind: FrameResponse}
	if err := r.header(ResponseHeaderSize, MaxResponseFrame); err != nil {
		return nil, err
	}
	if fl := r.u16(2); fl != 0 {
		return nil, r.fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
	}
	n, ferr := r.count(ResponseHeaderSize, ResultHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	f := &QueryResponse{}
	if n > 0 {
		f.Results = make([]Result, n)
	}
	p := ResponseHeaderSize
	for i := range f.Results {
		if err := r.need(i, p, ResultHeaderSize, "result header"); err != nil {
			return nil, err
		}
		res := &f.Results[i]
		size := r.u32(p)
		res.Status = int32(r.u32(p + 4))
		if res.Status > ResultNotFound {
			return nil, r.fail(i, p+4, ErrUnknownCode, "unknown result status "+strconv.Itoa(int(res.Status))+
				"; use 0 (OK), 1 (NOT_FOUND) or a negative errno")
		}
		bodyAt := p + ResultHeaderSize
		body, err := r.body(i, bodyAt, size)
		if err != nil {
			return nil, err
		}
		switch res.Status {
		case ResultOK:
			if res.Value, err = r.value(i, bodyAt, body, "result"); err != nil {
				return nil, err
			}
		case ResultNotFound:
			if len(body) != 0 {
				return nil, r.fail(i, bodyAt, ErrTrailing, "a NOT_FOUND result has an empty body, not "+strconv.Itoa(len(body))+" bytes")
			}
		default:
			res.Message = string(body)
		}
		p = bodyAt + len(body)
	}
	if p != len(b) {
		return nil, r.fail(-1, p, ErrTrailing, strconv.Itoa(len(b)-p)+" bytes after the last result")
	}
	return f, nil
}

// NewInvoke returns an INVOKE query (1.1) of the query with index query
// and the arguments args.
func NewInvoke(query uint16, args ...Value) Query {
	return Query{Op: QueryInvoke, PState: query, Path: List(args...)}
}

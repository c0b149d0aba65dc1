// The native canonical MessagePack codec: __squall.encode(value) and
// __squall.decode(bytes). It implements exactly the JS value mapping of
// @squall/sdk's pure-TS codec (guest-sdks/typescript/src/msgpack.ts, and
// the README's "Value mapping"), which is the reference; the SDK uses this
// one when present because it is several times faster in QuickJS. Errors
// carry the same categories: encode throws a TypeError/RangeError named
// "EncodeError"; decode throws an Error named "DecodeError" with "reason"
// and "offset" properties, as the TS DecodeError does.
//
// Encoding, by JS type (first match wins): null/undefined nil; boolean;
// number: int when a safe integer and not -0, else float64 (one NaN);
// bigint: int within int64; string: str (a lone surrogate is an error);
// Float64 (globalThis.__squallFloat64): float64; Uint8Array: bin; Array;
// Map; Set (ext 1); other typed arrays, DataView, ArrayBuffer, Date,
// Promise, WeakMap, WeakSet, RegExp, functions, symbols: error; any other
// object: a map of its own enumerable string keys, undefined fields left
// out. Maps are sorted by encoded key bytes; sets sorted and deduplicated.
//
// Decoding: nil null; bool; int: number when safe, else bigint; float:
// number, but Float64 when safe-integral and not -0, and always Float64 as
// a map key or set element; str string; bin Uint8Array (copy); array;
// a map whose keys are all strings: plain object ("__proto__" an own
// property); other maps: Map; set: Set.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "squall.h"

#define MAX_DEPTH 128
#define MAX_SAFE 9007199254740991.0

// Per-context things the codec looks up once: class ids of the built-in
// kinds it recognises (from sample objects), Object.prototype, and small JS
// helpers for the rare kinds C cannot take apart cheaply.
static struct {
    int ready;
    JSClassID object, array, u8, map, set;
    JSValue object_proto;
    JSValue map_entries;  // (m) => [keys, values]
    JSValue set_values;   // (s) => values
    JSValue not_plainish; // (o) => o is a view, ArrayBuffer, Date, Promise, WeakMap, WeakSet or RegExp
    JSValue float_ctor;   // globalThis.__squallFloat64, once the SDK set it
} K;

static int codec_init(JSContext *ctx) {
    if (K.ready) return 1;
    JSValue o = JS_NewObject(ctx), a = JS_NewArray(ctx);
    JSValue helpers = JS_Eval(ctx,
        "[(m) => { const k = [], v = []; m.forEach((x, y) => { k.push(y); v.push(x); }); return [k, v]; },"
        " (s) => { const k = []; s.forEach((x) => k.push(x)); return k; },"
        " (o) => ArrayBuffer.isView(o) || o instanceof ArrayBuffer || o instanceof Date || o instanceof Promise ||"
        "        o instanceof WeakMap || o instanceof WeakSet || o instanceof RegExp,"
        " new Uint8Array(0), new Map(), new Set()]",
        strlen("[(m) => { const k = [], v = []; m.forEach((x, y) => { k.push(y); v.push(x); }); return [k, v]; },"
               " (s) => { const k = []; s.forEach((x) => k.push(x)); return k; },"
               " (o) => ArrayBuffer.isView(o) || o instanceof ArrayBuffer || o instanceof Date || o instanceof Promise ||"
               "        o instanceof WeakMap || o instanceof WeakSet || o instanceof RegExp,"
               " new Uint8Array(0), new Map(), new Set()]"),
        "<squall codec>", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(helpers)) {
        JS_FreeValue(ctx, o);
        JS_FreeValue(ctx, a);
        return 0;
    }
    K.object = JS_GetClassID(o);
    K.array = JS_GetClassID(a);
    K.object_proto = JS_GetPrototype(ctx, o);
    K.map_entries = JS_GetPropertyUint32(ctx, helpers, 0);
    K.set_values = JS_GetPropertyUint32(ctx, helpers, 1);
    K.not_plainish = JS_GetPropertyUint32(ctx, helpers, 2);
    JSValue u8 = JS_GetPropertyUint32(ctx, helpers, 3);
    JSValue m = JS_GetPropertyUint32(ctx, helpers, 4);
    JSValue s = JS_GetPropertyUint32(ctx, helpers, 5);
    K.u8 = JS_GetClassID(u8);
    K.map = JS_GetClassID(m);
    K.set = JS_GetClassID(s);
    K.float_ctor = JS_UNDEFINED;
    JS_FreeValue(ctx, u8);
    JS_FreeValue(ctx, m);
    JS_FreeValue(ctx, s);
    JS_FreeValue(ctx, helpers);
    JS_FreeValue(ctx, o);
    JS_FreeValue(ctx, a);
    K.ready = 1;
    return 1;
}

// float_ctor returns the SDK's Float64 class, or undefined before the SDK
// has set globalThis.__squallFloat64.
static JSValueConst float_ctor(JSContext *ctx) {
    if (JS_IsUndefined(K.float_ctor)) {
        JSValue g = JS_GetGlobalObject(ctx);
        JSValue f = JS_GetPropertyStr(ctx, g, "__squallFloat64");
        JS_FreeValue(ctx, g);
        if (JS_IsFunction(ctx, f)) K.float_ctor = f;
        else JS_FreeValue(ctx, f);
    }
    return K.float_ctor;
}

// --- encoding -------------------------------------------------------------

static JSValue enc_error(JSContext *ctx, int range, const char *fmt, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    JSValue e = range ? JS_ThrowRangeError(ctx, "squall: encode: %s", msg) : JS_ThrowTypeError(ctx, "squall: encode: %s", msg);
    JSValue exc = JS_GetException(ctx);
    JS_DefinePropertyValueStr(ctx, exc, "name", JS_NewString(ctx, "EncodeError"), JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
    JS_Throw(ctx, exc);
    return e;
}

static void put_int(buf_t *b, int64_t x) {
    if (x >= 0) {
        if (x < 128) buf_u8(b, x);
        else if (x < 256) { buf_u8(b, 0xcc); buf_u8(b, x); }
        else if (x < 65536) { buf_u8(b, 0xcd); buf_be16(b, x); }
        else if (x < 4294967296LL) { buf_u8(b, 0xce); buf_be32(b, x); }
        else { buf_u8(b, 0xcf); buf_be64(b, x); }
    } else if (x >= -32) buf_u8(b, (uint8_t)x);
    else if (x >= -128) { buf_u8(b, 0xd0); buf_u8(b, (uint8_t)x); }
    else if (x >= -32768) { buf_u8(b, 0xd1); buf_be16(b, (uint16_t)x); }
    else if (x >= -2147483648LL) { buf_u8(b, 0xd2); buf_be32(b, (uint32_t)x); }
    else { buf_u8(b, 0xd3); buf_be64(b, (uint64_t)x); }
}

static void put_float(buf_t *b, double d) {
    uint64_t u;
    if (d != d) u = 0x7ff8000000000000ULL;
    else memcpy(&u, &d, 8);
    buf_u8(b, 0xcb);
    buf_be64(b, u);
}

static void put_number(buf_t *b, double d) {
    if (d == d && fabs(d) <= MAX_SAFE && d == trunc(d) && !(d == 0 && signbit(d))) put_int(b, (int64_t)d);
    else put_float(b, d);
}

static void put_len(buf_t *b, uint32_t n, uint8_t fix, uint32_t fix_max, uint8_t b16) {
    if (n < fix_max) buf_u8(b, fix | n);
    else if (n < 65536) { buf_u8(b, b16); buf_be16(b, n); }
    else { buf_u8(b, b16 + 1); buf_be32(b, n); }
}

// put_string writes a JS string as str; 0 (with an exception) on a lone
// surrogate. QuickJS's UTF-8 conversion keeps lone surrogates as the
// three-byte sequences ED A0..BF xx, which valid UTF-8 never contains.
static int put_string(JSContext *ctx, buf_t *b, JSValueConst v) {
    size_t n;
    const char *s = JS_ToCStringLen(ctx, &n, v);
    if (!s) return 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if ((uint8_t)s[i] == 0xed && (uint8_t)s[i + 1] >= 0xa0) {
            JS_FreeCString(ctx, s);
            enc_error(ctx, 0, "%s", "the string has a lone UTF-16 surrogate, which is not valid Unicode");
            return 0;
        }
    }
    if (n < 32) buf_u8(b, 0xa0 | n);
    else if (n < 256) { buf_u8(b, 0xd9); buf_u8(b, n); }
    else if (n < 65536) { buf_u8(b, 0xda); buf_be16(b, n); }
    else { buf_u8(b, 0xdb); buf_be32(b, n); }
    buf_put(b, s, n);
    JS_FreeCString(ctx, s);
    return 1;
}

static int put_value(JSContext *ctx, buf_t *b, JSValueConst v, int depth);

typedef struct {
    size_t start, mid, end;
} entry_t;

static const uint8_t *sort_base;
static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *c, size_t cn) {
    size_t n = an < cn ? an : cn;
    int d = memcmp(a, c, n);
    if (d) return d;
    return an < cn ? -1 : an > cn;
}
static int cmp_entry(const void *x, const void *y) {
    const entry_t *a = x, *c = y;
    return cmp_bytes(sort_base + a->start, a->mid - a->start, sort_base + c->start, c->mid - c->start);
}

// put_entries encodes n keys (and values, for a map) into scratch space,
// sorts them by key bytes and writes them: a map, or a set's ext 1 when
// vals is NULL (duplicates dropped; a map with duplicates is an error).
static int put_entries(JSContext *ctx, buf_t *b, JSValueConst *keys, JSValueConst *vals, uint32_t n, int depth) {
    buf_t s = {0};
    entry_t *e = malloc((n ? n : 1) * sizeof *e);
    if (!e) { JS_ThrowOutOfMemory(ctx); return 0; }
    for (uint32_t i = 0; i < n; i++) {
        e[i].start = s.len;
        if (!put_value(ctx, &s, keys[i], depth)) goto fail;
        e[i].mid = s.len;
        if (vals && !put_value(ctx, &s, vals[i], depth)) goto fail;
        e[i].end = s.len;
    }
    if (s.oom) { JS_ThrowOutOfMemory(ctx); goto fail; }
    sort_base = s.p;
    qsort(e, n, sizeof *e, cmp_entry);
    uint32_t unique = n;
    uint8_t *dup = calloc(n ? n : 1, 1);
    if (!dup) { JS_ThrowOutOfMemory(ctx); goto fail; }
    for (uint32_t i = 1; i < n; i++) {
        if (cmp_entry(&e[i - 1], &e[i]) == 0) {
            if (vals) {
                free(dup);
                enc_error(ctx, 0, "%s", "two map keys have the same encoding");
                goto fail;
            }
            dup[i] = 1;
            unique--;
        }
    }
    if (!vals) {
        uint32_t len = unique < 16 ? 1 : unique < 65536 ? 3 : 5;
        for (uint32_t i = 0; i < n; i++) if (!dup[i]) len += e[i].end - e[i].start;
        switch (len) {
        case 1: buf_u8(b, 0xd4); break;
        case 2: buf_u8(b, 0xd5); break;
        case 4: buf_u8(b, 0xd6); break;
        case 8: buf_u8(b, 0xd7); break;
        case 16: buf_u8(b, 0xd8); break;
        default:
            if (len < 256) { buf_u8(b, 0xc7); buf_u8(b, len); }
            else if (len < 65536) { buf_u8(b, 0xc8); buf_be16(b, len); }
            else { buf_u8(b, 0xc9); buf_be32(b, len); }
        }
        buf_u8(b, 0x01);
        put_len(b, unique, 0x90, 16, 0xdc);
    } else {
        put_len(b, n, 0x80, 16, 0xde);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!dup[i]) buf_put(b, s.p + e[i].start, e[i].end - e[i].start);
    }
    free(dup);
    free(e);
    buf_free(&s);
    return 1;
fail:
    free(e);
    buf_free(&s);
    return 0;
}

// put_list encodes a JS array of keys (and one of values) from a helper.
static int put_pairs(JSContext *ctx, buf_t *b, JSValueConst karr, JSValueConst varr, int depth) {
    JSValue lv = JS_GetPropertyStr(ctx, karr, "length");
    uint32_t n = 0;
    JS_ToUint32(ctx, &n, lv);
    JS_FreeValue(ctx, lv);
    JSValue *ks = js_mallocz(ctx, (n ? n : 1) * sizeof(JSValue) * 2);
    if (!ks) return 0;
    JSValue *vs = ks + n;
    for (uint32_t i = 0; i < n; i++) {
        ks[i] = JS_GetPropertyUint32(ctx, karr, i);
        vs[i] = JS_IsUndefined(varr) ? JS_UNDEFINED : JS_GetPropertyUint32(ctx, varr, i);
    }
    int ok = put_entries(ctx, b, (JSValueConst *)ks, JS_IsUndefined(varr) ? NULL : (JSValueConst *)vs, n, depth);
    for (uint32_t i = 0; i < n; i++) {
        JS_FreeValue(ctx, ks[i]);
        JS_FreeValue(ctx, vs[i]);
    }
    js_free(ctx, ks);
    return ok;
}

static int put_object(JSContext *ctx, buf_t *b, JSValueConst v, int depth) {
    JSValueConst fc = float_ctor(ctx);
    if (!JS_IsUndefined(fc)) {
        int is = JS_IsInstanceOf(ctx, v, fc);
        if (is < 0) return 0;
        if (is) {
            JSValue x = JS_GetPropertyStr(ctx, v, "value");
            double d;
            if (!JS_IsNumber(x)) {
                JS_FreeValue(ctx, x);
                enc_error(ctx, 0, "%s", "a Float64 must hold a number");
                return 0;
            }
            JS_ToFloat64(ctx, &d, x);
            put_float(b, d);
            return 1;
        }
    }
    JSClassID cid = JS_GetClassID(v);
    if (cid == K.u8) {
        size_t n;
        uint8_t *p = squall_bytes(ctx, v, &n);
        if (!p) return 0;
        if (n < 256) { buf_u8(b, 0xc4); buf_u8(b, n); }
        else if (n < 65536) { buf_u8(b, 0xc5); buf_be16(b, n); }
        else { buf_u8(b, 0xc6); buf_be32(b, n); }
        buf_put(b, p, n);
        return 1;
    }
    if (depth >= MAX_DEPTH) {
        enc_error(ctx, 1, "the value nests more than %s containers deep (or refers to itself)", "128");
        return 0;
    }
    int d = depth + 1;
    if (cid == K.array || JS_IsArray(ctx, v) > 0) {
        JSValue lv = JS_GetPropertyStr(ctx, v, "length");
        uint32_t n = 0;
        if (JS_ToUint32(ctx, &n, lv)) { JS_FreeValue(ctx, lv); return 0; }
        JS_FreeValue(ctx, lv);
        put_len(b, n, 0x90, 16, 0xdc);
        for (uint32_t i = 0; i < n; i++) {
            JSValue x = JS_GetPropertyUint32(ctx, v, i);
            if (JS_IsException(x)) return 0;
            int ok = put_value(ctx, b, x, d);
            JS_FreeValue(ctx, x);
            if (!ok) return 0;
        }
        return 1;
    }
    if (cid == K.map) {
        JSValue kv = JS_Call(ctx, K.map_entries, JS_UNDEFINED, 1, &v);
        if (JS_IsException(kv)) return 0;
        JSValue ks = JS_GetPropertyUint32(ctx, kv, 0), vs = JS_GetPropertyUint32(ctx, kv, 1);
        int ok = put_pairs(ctx, b, ks, vs, d);
        JS_FreeValue(ctx, ks);
        JS_FreeValue(ctx, vs);
        JS_FreeValue(ctx, kv);
        return ok;
    }
    if (cid == K.set) {
        JSValue ks = JS_Call(ctx, K.set_values, JS_UNDEFINED, 1, &v);
        if (JS_IsException(ks)) return 0;
        int ok = put_pairs(ctx, b, ks, JS_UNDEFINED, d);
        JS_FreeValue(ctx, ks);
        return ok;
    }
    // A plain object (class Object with prototype Object.prototype or
    // null) needs no further checks; anything else asks the JS helper.
    int plain = cid == K.object;
    if (plain) {
        JSValue proto = JS_GetPrototype(ctx, v);
        plain = JS_IsNull(proto) || JS_VALUE_GET_PTR(proto) == JS_VALUE_GET_PTR(K.object_proto);
        JS_FreeValue(ctx, proto);
    }
    if (!plain) {
        JSValue r = JS_Call(ctx, K.not_plainish, JS_UNDEFINED, 1, &v);
        if (JS_IsException(r)) return 0;
        int bad = JS_ToBool(ctx, r);
        JS_FreeValue(ctx, r);
        if (bad) {
            enc_error(ctx, 0, "%s", "this object has no Squall encoding; use a Uint8Array for bytes");
            return 0;
        }
    }
    JSPropertyEnum *tab;
    uint32_t n;
    if (JS_GetOwnPropertyNames(ctx, &tab, &n, v, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY)) return 0;
    JSValue *ks = js_mallocz(ctx, (n ? n : 1) * sizeof(JSValue) * 2);
    int ok = ks != NULL;
    uint32_t m = 0;
    JSValue *vs = ks ? ks + n : NULL;
    for (uint32_t i = 0; ok && i < n; i++) {
        JSValue x = JS_GetProperty(ctx, v, tab[i].atom);
        if (JS_IsException(x)) { ok = 0; break; }
        if (JS_IsUndefined(x)) continue;
        ks[m] = JS_AtomToString(ctx, tab[i].atom);
        vs[m] = x;
        m++;
    }
    for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, tab[i].atom);
    js_free(ctx, tab);
    if (ok) {
        if (m == 1) {
            buf_u8(b, 0x81);
            ok = put_string(ctx, b, ks[0]) && put_value(ctx, b, vs[0], d);
        } else {
            ok = put_entries(ctx, b, (JSValueConst *)ks, (JSValueConst *)vs, m, d);
        }
    }
    if (ks) {
        for (uint32_t i = 0; i < m; i++) {
            JS_FreeValue(ctx, ks[i]);
            JS_FreeValue(ctx, vs[i]);
        }
        js_free(ctx, ks);
    }
    return ok;
}

static int put_value(JSContext *ctx, buf_t *b, JSValueConst v, int depth) {
    int tag = JS_VALUE_GET_NORM_TAG(v);
    switch (tag) {
    case JS_TAG_INT:
        put_int(b, JS_VALUE_GET_INT(v));
        return 1;
    case JS_TAG_FLOAT64:
        put_number(b, JS_VALUE_GET_FLOAT64(v));
        return 1;
    case JS_TAG_STRING:
    case JS_TAG_STRING_ROPE:
        return put_string(ctx, b, v);
    case JS_TAG_BOOL:
        buf_u8(b, JS_VALUE_GET_BOOL(v) ? 0xc3 : 0xc2);
        return 1;
    case JS_TAG_NULL:
    case JS_TAG_UNDEFINED:
        buf_u8(b, 0xc0);
        return 1;
    case JS_TAG_BIG_INT:
    case JS_TAG_SHORT_BIG_INT: {
        int64_t x;
        if (JS_ToBigInt64(ctx, &x, v)) return 0;
        // JS_ToBigInt64 wraps modulo 2^64: in range iff it round-trips.
        JSValue back = JS_NewBigInt64(ctx, x);
        int same = JS_StrictEq(ctx, back, v);
        JS_FreeValue(ctx, back);
        if (!same) {
            enc_error(ctx, 1, "%s", "a bigint is out of the int64 range");
            return 0;
        }
        put_int(b, x);
        return 1;
    }
    case JS_TAG_OBJECT:
        if (JS_IsFunction(ctx, v)) {
            enc_error(ctx, 0, "%s", "a function has no Squall encoding");
            return 0;
        }
        return put_object(ctx, b, v, depth);
    case JS_TAG_SYMBOL:
        enc_error(ctx, 0, "%s", "a symbol has no Squall encoding");
        return 0;
    }
    enc_error(ctx, 0, "%s", "this value has no Squall encoding");
    return 0;
}

static buf_t enc_buf; // reused across calls: one allocation in the steady state

JSValue squall_encode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    if (!codec_init(ctx)) return JS_EXCEPTION;
    enc_buf.len = 0;
    enc_buf.oom = 0;
    if (!put_value(ctx, &enc_buf, argc > 0 ? argv[0] : JS_UNDEFINED, 0)) return JS_EXCEPTION;
    if (enc_buf.oom) return JS_ThrowOutOfMemory(ctx);
    JSValue r = squall_new_bytes(ctx, enc_buf.p, enc_buf.len);
    if (enc_buf.cap > (1 << 20)) buf_free(&enc_buf); // do not keep a huge buffer
    return r;
}

// --- decoding -------------------------------------------------------------

typedef struct {
    JSContext *ctx;
    const uint8_t *b;
    size_t p, end;
} reader_t;

static JSValue dec_error(reader_t *r, const char *reason, size_t at, const char *detail) {
    JSContext *ctx = r->ctx;
    JSValue e = JS_NewError(ctx);
    char msg[256];
    snprintf(msg, sizeof msg, "squall: decode: byte offset %zu: %s", at, detail);
    JS_DefinePropertyValueStr(ctx, e, "message", JS_NewString(ctx, msg), JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
    JS_DefinePropertyValueStr(ctx, e, "name", JS_NewString(ctx, "DecodeError"), JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
    JS_DefinePropertyValueStr(ctx, e, "reason", JS_NewString(ctx, reason), JS_PROP_C_W_E);
    JS_DefinePropertyValueStr(ctx, e, "offset", JS_NewInt64(ctx, at), JS_PROP_C_W_E);
    return JS_Throw(ctx, e);
}

static const char *short_reason(uint64_t n) { return n >= 65536 ? "length_exceeds_input" : "truncated"; }

static int need(reader_t *r, size_t n, const char *what) {
    if (r->end - r->p < n) {
        char d[96];
        snprintf(d, sizeof d, "input ends inside %s", what);
        dec_error(r, "truncated", r->p, d);
        return 0;
    }
    return 1;
}

static uint64_t be(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = 0; i < n; i++) x = x << 8 | p[i];
    return x;
}

static int read_len(reader_t *r, int n, const char *what, uint32_t *out) {
    if (!need(r, n, what)) return 0;
    *out = (uint32_t)be(r->b + r->p, n);
    r->p += n;
    return 1;
}

static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        uint32_t cp, min;
        int len;
        if (c >= 0xc2 && c <= 0xdf) { cp = c & 0x1f; len = 2; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { cp = c & 0x0f; len = 3; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { cp = c & 0x07; len = 4; min = 0x10000; }
        else return 0;
        if (i + len > n) return 0;
        for (int k = 1; k < len; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += len;
    }
    return 1;
}

static JSValue read_value(reader_t *r, int depth, int key);

static JSValue read_str(reader_t *r, uint32_t n, size_t at) {
    if (r->end - r->p < n) {
        char d[96];
        snprintf(d, sizeof d, "string of %u bytes exceeds the %zu bytes left", n, r->end - r->p);
        return dec_error(r, short_reason(n), at, d);
    }
    const uint8_t *s = r->b + r->p;
    r->p += n;
    if (!valid_utf8(s, n)) return dec_error(r, "invalid_utf8", at, "string is not valid UTF-8");
    return JS_NewStringLen(r->ctx, (const char *)s, n);
}

static JSValue as_float(reader_t *r, double x, int key) {
    if (key || (x == x && fabs(x) <= MAX_SAFE && x == trunc(x) && !(x == 0 && signbit(x)))) {
        JSValueConst fc = float_ctor(r->ctx);
        if (JS_IsUndefined(fc)) {
            return JS_ThrowTypeError(r->ctx, "squall: decode: a float needs the SDK's Float64 class (globalThis.__squallFloat64), which is not set");
        }
        JSValue arg = JS_NewFloat64(r->ctx, x);
        JSValue f = JS_CallConstructor(r->ctx, fc, 1, (JSValueConst *)&arg);
        JS_FreeValue(r->ctx, arg);
        return f;
    }
    return JS_NewFloat64(r->ctx, x);
}

static JSValue new_int(JSContext *ctx, int64_t x) {
    if (x >= -9007199254740991LL && x <= 9007199254740991LL) return JS_NewInt64(ctx, x);
    return JS_NewBigInt64(ctx, x);
}

static int enter(reader_t *r, int depth, size_t at) {
    if (depth >= MAX_DEPTH) {
        dec_error(r, "too_deep", at, "nesting deeper than 128");
        return -1;
    }
    return depth + 1;
}

static JSValue read_array(reader_t *r, uint32_t n, int depth, size_t at) {
    int d = enter(r, depth, at);
    if (d < 0) return JS_EXCEPTION;
    if (n > r->end - r->p) {
        char m[96];
        snprintf(m, sizeof m, "array of %u items exceeds the %zu bytes left", n, r->end - r->p);
        return dec_error(r, "length_exceeds_input", at, m);
    }
    JSValue a = JS_NewArray(r->ctx);
    if (JS_IsException(a)) return a;
    for (uint32_t i = 0; i < n; i++) {
        JSValue x = read_value(r, d, 0);
        if (JS_IsException(x) || JS_SetPropertyUint32(r->ctx, a, i, x) < 0) {
            JS_FreeValue(r->ctx, a);
            return JS_EXCEPTION;
        }
    }
    return a;
}

// key_id is the canonical encoding of a decoded key, its identity for
// duplicate checks (the TS decoder compares encodePure(k) likewise).
static int key_id(JSContext *ctx, JSValueConst k, buf_t *out) {
    out->len = 0;
    return put_value(ctx, out, k, 0) && !out->oom;
}

typedef struct {
    buf_t *ids;
    size_t n, cap;
} idset_t;

// idset_add records id; 0 when it was already there, -1 on no memory.
static int idset_add(idset_t *s, const buf_t *id) {
    for (size_t i = 0; i < s->n; i++) {
        if (s->ids[i].len == id->len && memcmp(s->ids[i].p, id->p, id->len) == 0) return 0;
    }
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 16;
        buf_t *n = realloc(s->ids, c * sizeof *n);
        if (!n) return -1;
        s->ids = n;
        s->cap = c;
    }
    buf_t copy = {0};
    buf_put(&copy, id->p ? id->p : (const uint8_t *)"", id->len);
    if (copy.oom) return -1;
    s->ids[s->n++] = copy;
    return 1;
}

static void idset_free(idset_t *s) {
    for (size_t i = 0; i < s->n; i++) buf_free(&s->ids[i]);
    free(s->ids);
}

// map_add adds k -> v to the Map m, failing on a duplicate key.
static int map_add(reader_t *r, JSValueConst m, idset_t *seen, JSValue k, JSValue v, size_t at) {
    JSContext *ctx = r->ctx;
    buf_t id = {0};
    int ok = key_id(ctx, k, &id);
    int added = ok ? idset_add(seen, &id) : -1;
    buf_free(&id);
    if (added <= 0) {
        JS_FreeValue(ctx, k);
        JS_FreeValue(ctx, v);
        if (added == 0) dec_error(r, "duplicate_map_key", at, "duplicate map key");
        else if (ok) JS_ThrowOutOfMemory(ctx);
        return 0;
    }
    JSValue setter = JS_GetPropertyStr(ctx, m, "set");
    JSValue args[2] = {k, v};
    JSValue res = JS_Call(ctx, setter, m, 2, (JSValueConst *)args);
    JS_FreeValue(ctx, setter);
    JS_FreeValue(ctx, k);
    JS_FreeValue(ctx, v);
    if (JS_IsException(res)) return 0;
    JS_FreeValue(ctx, res);
    return 1;
}

static JSValue new_map(JSContext *ctx) {
    JSValue g = JS_GetGlobalObject(ctx);
    JSValue ctor = JS_GetPropertyStr(ctx, g, "Map");
    JS_FreeValue(ctx, g);
    JSValue m = JS_CallConstructor(ctx, ctor, 0, NULL);
    JS_FreeValue(ctx, ctor);
    return m;
}

static JSValue read_map(reader_t *r, uint32_t n, int depth, size_t at) {
    JSContext *ctx = r->ctx;
    int d = enter(r, depth, at);
    if (d < 0) return JS_EXCEPTION;
    if ((uint64_t)n * 2 > r->end - r->p) {
        char m[96];
        snprintf(m, sizeof m, "map of %u entries exceeds the %zu bytes left", n, r->end - r->p);
        return dec_error(r, "length_exceeds_input", at, m);
    }
    JSValue obj = JS_NewObject(ctx);
    if (JS_IsException(obj)) return obj;
    for (uint32_t i = 0; i < n; i++) {
        size_t kat = r->p;
        JSValue k = read_value(r, d, 1);
        if (JS_IsException(k)) { JS_FreeValue(ctx, obj); return k; }
        if (!JS_IsString(k)) {
            // Not all keys are strings: continue as a Map.
            JSValue m = new_map(ctx);
            idset_t seen = {0};
            int ok = !JS_IsException(m);
            JSPropertyEnum *tab = NULL;
            uint32_t nk = 0;
            if (ok && JS_GetOwnPropertyNames(ctx, &tab, &nk, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY)) ok = 0;
            for (uint32_t j = 0; ok && j < nk; j++) {
                JSValue name = JS_AtomToString(ctx, tab[j].atom);
                JSValue val = JS_GetProperty(ctx, obj, tab[j].atom);
                ok = map_add(r, m, &seen, name, val, kat);
            }
            if (tab) {
                for (uint32_t j = 0; j < nk; j++) JS_FreeAtom(ctx, tab[j].atom);
                js_free(ctx, tab);
            }
            if (ok) {
                JSValue v = read_value(r, d, 0);
                ok = !JS_IsException(v) && map_add(r, m, &seen, k, v, kat);
                if (JS_IsException(v)) JS_FreeValue(ctx, k);
            } else {
                JS_FreeValue(ctx, k);
            }
            for (i++; ok && i < n; i++) {
                size_t kat2 = r->p;
                JSValue k2 = read_value(r, d, 1);
                if (JS_IsException(k2)) { ok = 0; break; }
                JSValue v2 = read_value(r, d, 0);
                if (JS_IsException(v2)) { JS_FreeValue(ctx, k2); ok = 0; break; }
                ok = map_add(r, m, &seen, k2, v2, kat2);
            }
            idset_free(&seen);
            JS_FreeValue(ctx, obj);
            if (!ok) { JS_FreeValue(ctx, m); return JS_EXCEPTION; }
            return m;
        }
        JSAtom atom = JS_ValueToAtom(ctx, k);
        JS_FreeValue(ctx, k);
        if (atom == JS_ATOM_NULL) { JS_FreeValue(ctx, obj); return JS_EXCEPTION; }
        int has = JS_GetOwnProperty(ctx, NULL, obj, atom);
        if (has != 0) {
            JS_FreeAtom(ctx, atom);
            JS_FreeValue(ctx, obj);
            if (has < 0) return JS_EXCEPTION;
            char m[160];
            snprintf(m, sizeof m, "duplicate map key");
            return dec_error(r, "duplicate_map_key", kat, m);
        }
        JSValue v = read_value(r, d, 0);
        if (JS_IsException(v)) { JS_FreeAtom(ctx, atom); JS_FreeValue(ctx, obj); return v; }
        // Define (not set), so that "__proto__" becomes an own property.
        int rc = JS_DefinePropertyValue(ctx, obj, atom, v, JS_PROP_C_W_E);
        JS_FreeAtom(ctx, atom);
        if (rc < 0) { JS_FreeValue(ctx, obj); return JS_EXCEPTION; }
    }
    return obj;
}

static JSValue read_ext(reader_t *r, uint32_t n, int depth, size_t at) {
    JSContext *ctx = r->ctx;
    if (!need(r, 1, "an extension type")) return JS_EXCEPTION;
    int8_t type = (int8_t)r->b[r->p++];
    if (r->end - r->p < n) {
        char m[96];
        snprintf(m, sizeof m, "extension of %u bytes exceeds the %zu bytes left", n, r->end - r->p);
        return dec_error(r, short_reason(n), at, m);
    }
    if (type != 1) {
        char m[64];
        snprintf(m, sizeof m, "unsupported extension type %d", type);
        return dec_error(r, "unsupported_ext", at, m);
    }
    int d = enter(r, depth, at);
    if (d < 0) return JS_EXCEPTION;
    reader_t sub = {ctx, r->b, r->p, r->p + n};
    r->p += n;
    if (n == 0) return dec_error(r, "bad_set_payload", at, "a set payload must be one array");
    uint8_t h = sub.b[sub.p];
    size_t hat = sub.p;
    sub.p++;
    uint32_t count;
    if (h >= 0x90 && h <= 0x9f) count = h & 0x0f;
    else if ((h == 0xdc || h == 0xdd) && sub.end - sub.p >= (size_t)(h == 0xdc ? 2 : 4)) {
        int w = h == 0xdc ? 2 : 4;
        count = (uint32_t)be(sub.b + sub.p, w);
        sub.p += w;
    } else return dec_error(r, "bad_set_payload", hat, "a set payload must be one array");
    if (count > sub.end - sub.p) {
        char m[96];
        snprintf(m, sizeof m, "set of %u elements exceeds the %zu bytes left", count, sub.end - sub.p);
        return dec_error(r, "length_exceeds_input", hat, m);
    }
    JSValue g = JS_GetGlobalObject(ctx);
    JSValue ctor = JS_GetPropertyStr(ctx, g, "Set");
    JS_FreeValue(ctx, g);
    JSValue s = JS_CallConstructor(ctx, ctor, 0, NULL);
    JS_FreeValue(ctx, ctor);
    if (JS_IsException(s)) return s;
    JSValue adder = JS_GetPropertyStr(ctx, s, "add");
    idset_t seen = {0};
    int ok = 1;
    for (uint32_t i = 0; ok && i < count; i++) {
        size_t eat = sub.p;
        JSValue e = read_value(&sub, d, 1);
        if (JS_IsException(e)) { ok = 0; break; }
        buf_t id = {0};
        int added = key_id(ctx, e, &id) ? idset_add(&seen, &id) : -1;
        buf_free(&id);
        if (added <= 0) {
            JS_FreeValue(ctx, e);
            if (added == 0) dec_error(r, "duplicate_set_element", eat, "duplicate set element");
            ok = 0;
            break;
        }
        JSValue res = JS_Call(ctx, adder, s, 1, (JSValueConst *)&e);
        JS_FreeValue(ctx, e);
        if (JS_IsException(res)) { ok = 0; break; }
        JS_FreeValue(ctx, res);
    }
    idset_free(&seen);
    JS_FreeValue(ctx, adder);
    if (ok && sub.p != sub.end) {
        dec_error(r, "bad_set_payload", sub.p, "a set payload must be exactly one array");
        ok = 0;
    }
    if (!ok) { JS_FreeValue(ctx, s); return JS_EXCEPTION; }
    return s;
}

static JSValue read_value(reader_t *r, int depth, int key) {
    JSContext *ctx = r->ctx;
    if (r->p >= r->end) return dec_error(r, "truncated", r->p, "input ends before a value");
    size_t at = r->p;
    uint8_t c = r->b[r->p++];
    uint32_t n;
    if (c < 0x80) return JS_NewInt32(ctx, c);
    if (c >= 0xe0) return JS_NewInt32(ctx, (int)c - 256);
    if (c >= 0xa0 && c <= 0xbf) return read_str(r, c & 0x1f, at);
    if (c >= 0x90 && c <= 0x9f) return read_array(r, c & 0x0f, depth, at);
    if (c >= 0x80 && c <= 0x8f) return read_map(r, c & 0x0f, depth, at);
    switch (c) {
    case 0xc0: return JS_NULL;
    case 0xc2: return JS_FALSE;
    case 0xc3: return JS_TRUE;
    case 0xc1: return dec_error(r, "reserved_byte", at, "the byte 0xc1 is never used");
    case 0xcc: return read_len(r, 1, "a uint8", &n) ? JS_NewInt32(ctx, n) : JS_EXCEPTION;
    case 0xcd: return read_len(r, 2, "a uint16", &n) ? JS_NewInt32(ctx, n) : JS_EXCEPTION;
    case 0xce: return read_len(r, 4, "a uint32", &n) ? JS_NewInt64(ctx, n) : JS_EXCEPTION;
    case 0xcf: {
        if (!need(r, 8, "an int64")) return JS_EXCEPTION;
        uint64_t u = be(r->b + r->p, 8);
        if (u >> 63) {
            char m[96];
            snprintf(m, sizeof m, "integer out of int64 range (%llu)", (unsigned long long)u);
            return dec_error(r, "int_out_of_range", at, m);
        }
        r->p += 8;
        return new_int(ctx, (int64_t)u);
    }
    case 0xd0: if (!need(r, 1, "an int8")) return JS_EXCEPTION; r->p += 1; return JS_NewInt32(ctx, (int8_t)r->b[r->p - 1]);
    case 0xd1: if (!need(r, 2, "an int16")) return JS_EXCEPTION; r->p += 2; return JS_NewInt32(ctx, (int16_t)be(r->b + r->p - 2, 2));
    case 0xd2: if (!need(r, 4, "an int32")) return JS_EXCEPTION; r->p += 4; return JS_NewInt32(ctx, (int32_t)be(r->b + r->p - 4, 4));
    case 0xd3: if (!need(r, 8, "an int64")) return JS_EXCEPTION; r->p += 8; return new_int(ctx, (int64_t)be(r->b + r->p - 8, 8));
    case 0xca: {
        if (!need(r, 4, "a float32")) return JS_EXCEPTION;
        uint32_t u = (uint32_t)be(r->b + r->p, 4);
        float f;
        memcpy(&f, &u, 4);
        r->p += 4;
        return as_float(r, (double)f, key);
    }
    case 0xcb: {
        if (!need(r, 8, "a float64")) return JS_EXCEPTION;
        uint64_t u = be(r->b + r->p, 8);
        double f;
        memcpy(&f, &u, 8);
        r->p += 8;
        return as_float(r, f, key);
    }
    case 0xd9: return read_len(r, 1, "a str8 header", &n) ? read_str(r, n, at) : JS_EXCEPTION;
    case 0xda: return read_len(r, 2, "a str16 header", &n) ? read_str(r, n, at) : JS_EXCEPTION;
    case 0xdb: return read_len(r, 4, "a str32 header", &n) ? read_str(r, n, at) : JS_EXCEPTION;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
        if (!read_len(r, c == 0xc4 ? 1 : c == 0xc5 ? 2 : 4, "a bin header", &n)) return JS_EXCEPTION;
        if (r->end - r->p < n) {
            char m[96];
            snprintf(m, sizeof m, "bytes of length %u exceed the %zu bytes left", n, r->end - r->p);
            return dec_error(r, short_reason(n), at, m);
        }
        JSValue v = squall_new_bytes(ctx, r->b + r->p, n);
        r->p += n;
        return v;
    }
    case 0xdc: return read_len(r, 2, "an array16 header", &n) ? read_array(r, n, depth, at) : JS_EXCEPTION;
    case 0xdd: return read_len(r, 4, "an array32 header", &n) ? read_array(r, n, depth, at) : JS_EXCEPTION;
    case 0xde: return read_len(r, 2, "a map16 header", &n) ? read_map(r, n, depth, at) : JS_EXCEPTION;
    case 0xdf: return read_len(r, 4, "a map32 header", &n) ? read_map(r, n, depth, at) : JS_EXCEPTION;
    case 0xd4: return read_ext(r, 1, depth, at);
    case 0xd5: return read_ext(r, 2, depth, at);
    case 0xd6: return read_ext(r, 4, depth, at);
    case 0xd7: return read_ext(r, 8, depth, at);
    case 0xd8: return read_ext(r, 16, depth, at);
    case 0xc7: return read_len(r, 1, "an ext8 header", &n) ? read_ext(r, n, depth, at) : JS_EXCEPTION;
    case 0xc8: return read_len(r, 2, "an ext16 header", &n) ? read_ext(r, n, depth, at) : JS_EXCEPTION;
    case 0xc9: return read_len(r, 4, "an ext32 header", &n) ? read_ext(r, n, depth, at) : JS_EXCEPTION;
    }
    char m[48];
    snprintf(m, sizeof m, "unknown type byte 0x%x", c);
    return dec_error(r, "reserved_byte", at, m);
}

JSValue squall_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    if (!codec_init(ctx)) return JS_EXCEPTION;
    size_t n;
    uint8_t *p = squall_bytes(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, &n);
    if (!p) return JS_EXCEPTION;
    reader_t r = {ctx, p, 0, n};
    JSValue v = read_value(&r, 0, 0);
    if (JS_IsException(v)) return v;
    if (r.p != r.end) {
        JS_FreeValue(ctx, v);
        char m[64];
        snprintf(m, sizeof m, "%zu bytes after the value", r.end - r.p);
        return dec_error(&r, "trailing_bytes", r.p, m);
    }
    return v;
}

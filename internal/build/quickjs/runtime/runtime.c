// Squall's QuickJS runtime: the guest side of ABI v1 (abi/ABI.md) for
// JavaScript. One wasm32-wasi reactor, shared unchanged by every TypeScript
// module; the user's code travels in the artifact's file tree (the
// squall.files section, mounted at /squall):
//
//   app/bundle.qjsbc  QuickJS bytecode of the esbuild bundle (preferred), or
//   app/bundle.js     the bundle as source
//   app/bundle.js.map its source map (stack traces are mapped through it)
//
// On the first squall_init the runtime creates one JSRuntime/JSContext,
// installs globalThis.__squall (flush, query, take, encode, decode,
// mapStack) and a console, evaluates the bundle, and then calls
// globalThis.__squallEntry.init(frame) / .process(frame) for squall_init /
// squall_process. The SDK (@squall/sdk) sets __squallEntry. A JS exception
// that escapes them becomes an ERROR effect (message, kind, mapped stack)
// and the FAILED status instead of a trap.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "squall.h"

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("squall_v1"), import_name(name)))

IMPORT("flush") int32_t host_flush(const uint8_t *ptr, uint32_t len);
IMPORT("query") int32_t host_query(const uint8_t *req, uint32_t req_len, uint8_t *out, uint32_t out_cap);
IMPORT("take") int32_t host_take(uint8_t *out, uint32_t out_cap);

// The JS stack limit. The wasm stack is 1 MiB (-z stack-size in the build
// script) and lives in linear memory with no guard page, so QuickJS must
// throw a RangeError well before it is used up: C code below the last check
// (the parser, the regexp engine, the codec) needs some room.
#define JS_STACK_LIMIT (768 * 1024)

enum { STATUS_OK = 0, STATUS_FAILED = 1 };
enum { ENOENT_ABI = -2 };

static JSRuntime *rt;
static JSContext *ctx;
static JSValue entry = JS_UNDEFINED;        // globalThis.__squallEntry
static JSValue entry_init = JS_UNDEFINED;   // its init function
static JSValue entry_process = JS_UNDEFINED;
static int loaded;                          // load_bundle ran
static buf_t load_error;                    // ERROR detail when loading failed

static uint8_t *inbox;
static size_t inbox_cap;
static uint8_t *out;     // query/take output buffer, reused across calls
static size_t out_cap;

// --- byte buffers ---------------------------------------------------------

void buf_reserve(buf_t *b, size_t n) {
    if (b->oom || b->len + n <= b->cap) return;
    size_t c = b->cap ? b->cap : 256;
    while (c < b->len + n) c *= 2;
    uint8_t *p = realloc(b->p, c);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = c;
}
void buf_put(buf_t *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}
void buf_u8(buf_t *b, uint8_t v) { buf_put(b, &v, 1); }
void buf_be16(buf_t *b, uint16_t v) { uint8_t x[2] = {v >> 8, v}; buf_put(b, x, 2); }
void buf_be32(buf_t *b, uint32_t v) { uint8_t x[4] = {v >> 24, v >> 16, v >> 8, v}; buf_put(b, x, 4); }
void buf_be64(buf_t *b, uint64_t v) { buf_be32(b, v >> 32); buf_be32(b, (uint32_t)v); }
void buf_free(buf_t *b) { free(b->p); memset(b, 0, sizeof *b); }
static void buf_le32(buf_t *b, uint32_t v) { uint8_t x[4] = {v, v >> 8, v >> 16, v >> 24}; buf_put(b, x, 4); }

void mp_str(buf_t *b, const char *s, size_t n) {
    if (n < 32) buf_u8(b, 0xa0 | n);
    else if (n < 256) { buf_u8(b, 0xd9); buf_u8(b, n); }
    else if (n < 65536) { buf_u8(b, 0xda); buf_be16(b, n); }
    else { buf_u8(b, 0xdb); buf_be32(b, n); }
    buf_put(b, s, n);
}
void mp_map_header(buf_t *b, uint32_t n) {
    if (n < 16) buf_u8(b, 0x80 | n);
    else if (n < 65536) { buf_u8(b, 0xde); buf_be16(b, n); }
    else { buf_u8(b, 0xdf); buf_be32(b, n); }
}

// --- JS helpers -----------------------------------------------------------

uint8_t *squall_bytes(JSContext *c, JSValueConst v, size_t *len) {
    size_t off, n, per;
    JSValue ab = JS_GetTypedArrayBuffer(c, v, &off, &n, &per);
    if (!JS_IsException(ab)) {
        size_t size;
        uint8_t *p = JS_GetArrayBuffer(c, &size, ab);
        JS_FreeValue(c, ab);
        if (!p) {
            if (n > 0) return NULL; // detached: exception pending
            if (JS_HasException(c)) JS_FreeValue(c, JS_GetException(c));
            *len = 0;
            return (uint8_t *)"";
        }
        *len = n;
        return p + off;
    }
    JS_FreeValue(c, JS_GetException(c));
    size_t size;
    uint8_t *p = JS_GetArrayBuffer(c, &size, v);
    if (p) { *len = size; return p; }
    JS_FreeValue(c, JS_GetException(c));
    JS_ThrowTypeError(c, "squall: expected a Uint8Array");
    return NULL;
}

// new_u8 makes a Uint8Array over all of ArrayBuffer ab. The constructor
// reads three arguments whatever argc says.
static JSValue new_u8(JSContext *c, JSValueConst ab) {
    JSValueConst args[3] = {ab, JS_NewInt32(c, 0), JS_UNDEFINED};
    return JS_NewTypedArray(c, 3, args, JS_TYPED_ARRAY_UINT8);
}

JSValue squall_new_bytes(JSContext *c, const uint8_t *p, size_t n) {
    JSValue ab = JS_NewArrayBufferCopy(c, p, n);
    if (JS_IsException(ab)) return ab;
    JSValue u8 = new_u8(c, ab);
    JS_FreeValue(c, ab);
    return u8;
}

static const char *errno_name(int e) {
    static const char *names[] = {"", "EINVAL", "ENOENT", "EBADID", "ETOOBIG", "EWRONGPART",
                                  "EQUOTA", "ESTATE", "EINTERNAL", "EPATH", "ESCHEMA", "EMULTI"};
    return (e < 0 && -e < (int)(sizeof names / sizeof names[0])) ? names[-e] : "errno";
}

// throw_errno throws an Error whose errno property is the (negative) errno.
static JSValue throw_errno(JSContext *c, const char *fn, int e) {
    char msg[128];
    snprintf(msg, sizeof msg, "squall: host %s failed: %s (%d)", fn, errno_name(e), e);
    JSValue err = JS_NewError(c);
    JS_SetPropertyStr(c, err, "message", JS_NewString(c, msg));
    JS_SetPropertyStr(c, err, "errno", JS_NewInt32(c, e));
    return JS_Throw(c, err);
}

static int grow_out(size_t n) {
    if (n <= out_cap) return 1;
    size_t c = out_cap ? out_cap : 65536;
    while (c < n) c *= 2;
    uint8_t *p = malloc(c);
    if (!p) return 0;
    free(out);
    out = p;
    out_cap = c;
    return 1;
}

// --- globalThis.__squall --------------------------------------------------

// flush(frame: Uint8Array): number — squall_v1.flush; its result as is.
static JSValue js_flush(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t n;
    uint8_t *p = squall_bytes(c, argc > 0 ? argv[0] : JS_UNDEFINED, &n);
    if (!p) return JS_EXCEPTION;
    return JS_NewInt32(c, host_flush(p, n));
}

// fetch_parked copies the parked result of size n into out and returns a
// Uint8Array of it.
static JSValue fetch_parked(JSContext *c, int32_t n) {
    for (int tries = 0; tries < 4; tries++) {
        if (!grow_out(n)) return JS_ThrowOutOfMemory(c);
        int32_t m = host_take(out, out_cap);
        if (m < 0) return throw_errno(c, "take", m);
        if ((size_t)m <= out_cap) return squall_new_bytes(c, out, m);
        n = m; // larger than announced: grow and ask again
    }
    return JS_ThrowInternalError(c, "squall: take kept reporting a larger result");
}

// query(req: Uint8Array): Uint8Array — runs a query frame and returns the
// response frame, fetching it with take when it did not fit (§7.2, §7.3).
static JSValue js_query(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    size_t n;
    uint8_t *p = squall_bytes(c, argc > 0 ? argv[0] : JS_UNDEFINED, &n);
    if (!p) return JS_EXCEPTION;
    if (!grow_out(65536)) return JS_ThrowOutOfMemory(c);
    int32_t r = host_query(p, n, out, out_cap);
    if (r < 0) return throw_errno(c, "query", r);
    if ((size_t)r <= out_cap) return squall_new_bytes(c, out, r);
    return fetch_parked(c, r);
}

// take(): Uint8Array | null — the parked result (the rejections of a flush
// that returned n > 0), or null when nothing is parked.
static JSValue js_take(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv) {
    if (!grow_out(65536)) return JS_ThrowOutOfMemory(c);
    int32_t r = host_take(out, out_cap);
    if (r == ENOENT_ABI) return JS_NULL;
    if (r < 0) return throw_errno(c, "take", r);
    if ((size_t)r <= out_cap) return squall_new_bytes(c, out, r);
    return fetch_parked(c, r);
}

// console.log and friends write a line to stdout (log, info, debug) or
// stderr (warn, error); the host captures both into the operator log.
static JSValue js_console(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv, int magic) {
    FILE *f = magic ? stderr : stdout;
    for (int i = 0; i < argc; i++) {
        JSValue s;
        if (JS_IsString(argv[i]) || !JS_IsObject(argv[i]) || JS_IsFunction(c, argv[i]) || JS_IsError(c, argv[i])) {
            s = JS_ToString(c, argv[i]);
        } else {
            s = JS_JSONStringify(c, argv[i], JS_UNDEFINED, JS_UNDEFINED);
            if (JS_IsException(s)) { JS_FreeValue(c, JS_GetException(c)); s = JS_ToString(c, argv[i]); }
        }
        const char *str = JS_IsException(s) ? NULL : JS_ToCString(c, s);
        if (i > 0) fputc(' ', f);
        fputs(str ? str : "?", f);
        if (str) JS_FreeCString(c, str);
        if (JS_IsException(s)) JS_FreeValue(c, JS_GetException(c));
        JS_FreeValue(c, s);
        if (JS_IsError(c, argv[i])) {
            JSValue st = JS_GetPropertyStr(c, argv[i], "stack");
            if (JS_IsString(st)) {
                JSValue m = squall_map_stack(c, st);
                const char *ms = JS_ToCString(c, m);
                if (ms) { fputc('\n', f); fputs(ms, f); JS_FreeCString(c, ms); }
                JS_FreeValue(c, m);
            }
            JS_FreeValue(c, st);
        }
    }
    fputc('\n', f);
    fflush(f);
    return JS_UNDEFINED;
}

static const JSCFunctionListEntry squall_funcs[] = {
    JS_CFUNC_DEF("flush", 1, js_flush),
    JS_CFUNC_DEF("query", 1, js_query),
    JS_CFUNC_DEF("take", 0, js_take),
    JS_CFUNC_DEF("encode", 1, squall_encode),
    JS_CFUNC_DEF("decode", 1, squall_decode),
    JS_CFUNC_DEF("mapStack", 1, squall_js_map_stack),
};

static const JSCFunctionListEntry console_funcs[] = {
    JS_CFUNC_MAGIC_DEF("log", 1, js_console, 0),
    JS_CFUNC_MAGIC_DEF("info", 1, js_console, 0),
    JS_CFUNC_MAGIC_DEF("debug", 1, js_console, 0),
    JS_CFUNC_MAGIC_DEF("warn", 1, js_console, 1),
    JS_CFUNC_MAGIC_DEF("error", 1, js_console, 1),
};

// --- errors ---------------------------------------------------------------

// str_prop returns obj[name] as a new C string when it is a non-empty
// string, else NULL.
static const char *str_prop(JSContext *c, JSValueConst obj, const char *name, size_t *len) {
    if (!JS_IsObject(obj)) return NULL;
    JSValue v = JS_GetPropertyStr(c, obj, name);
    const char *s = NULL;
    if (JS_IsString(v)) s = JS_ToCStringLen(c, len, v);
    else if (JS_IsException(v)) JS_FreeValue(c, JS_GetException(c));
    JS_FreeValue(c, v);
    if (s && *len == 0) { JS_FreeCString(c, s); s = NULL; }
    return s;
}

// error_detail writes the ABI error detail (§6.3) of the pending exception
// into d, prefixed by what ("evaluating the bundle: "), and clears it:
// {"kind": the error's name, "stack": its stack mapped to the TypeScript
// sources, "message": what [+ message]}. Keys are in canonical order
// (sorted by their encoded bytes: shorter fixstr first).
static void error_detail(JSContext *c, const char *what, buf_t *d) {
    JSValue exc = JS_GetException(c);
    size_t klen = 0, mlen = 0, slen = 0;
    const char *kind = NULL, *msg = NULL, *stack = NULL;
    JSValue mapped = JS_UNDEFINED;
    int is_err = JS_IsError(c, exc);
    if (is_err) {
        kind = str_prop(c, exc, "name", &klen);
        msg = str_prop(c, exc, "message", &mlen);
        JSValue st = JS_GetPropertyStr(c, exc, "stack");
        if (JS_IsString(st)) {
            mapped = squall_map_stack(c, st);
            if (JS_IsException(mapped)) { JS_FreeValue(c, JS_GetException(c)); mapped = JS_UNDEFINED; }
            else stack = JS_ToCStringLen(c, &slen, mapped);
        } else if (JS_IsException(st)) {
            JS_FreeValue(c, JS_GetException(c));
        }
        JS_FreeValue(c, st);
    } else {
        // throw "text" or throw {…}: the value's string form.
        JSValue s = JS_ToString(c, exc);
        if (JS_IsException(s)) { JS_FreeValue(c, JS_GetException(c)); s = JS_NewString(c, "a value that has no string form"); }
        msg = JS_ToCStringLen(c, &mlen, s);
        JS_FreeValue(c, s);
    }
    if (stack && slen && stack[slen - 1] == '\n') slen--; // QuickJS ends stacks with a newline
    d->len = 0;
    mp_map_header(d, 1 + (kind != NULL) + (stack != NULL && slen > 0));
    if (kind) { mp_str(d, "kind", 4); mp_str(d, kind, klen); }
    if (stack && slen > 0) { mp_str(d, "stack", 5); mp_str(d, stack, slen); }
    mp_str(d, "message", 7);
    size_t wlen = strlen(what);
    const char *m = msg ? msg : "(no message)";
    if (!msg) mlen = strlen(m);
    // The message is what + the error's message, as one string.
    size_t total = wlen + mlen;
    if (total < 32) buf_u8(d, 0xa0 | total);
    else if (total < 256) { buf_u8(d, 0xd9); buf_u8(d, total); }
    else if (total < 65536) { buf_u8(d, 0xda); buf_be16(d, total); }
    else { buf_u8(d, 0xdb); buf_be32(d, total); }
    buf_put(d, what, wlen);
    buf_put(d, m, mlen);
    if (kind) JS_FreeCString(c, kind);
    if (stack) JS_FreeCString(c, stack);
    if (msg) JS_FreeCString(c, msg);
    JS_FreeValue(c, mapped);
    JS_FreeValue(c, exc);
}

// flush_error flushes one ERROR effect (item NoItem) with detail d; when
// even that fails (no memory, or the host refuses it) it writes to stderr,
// which the host captures too.
static void flush_error(const buf_t *d, const char *fallback) {
    buf_t f = {0};
    if (!d->oom && d->len > 0) {
        buf_u8(&f, 1); buf_u8(&f, 3); buf_u8(&f, 0); buf_u8(&f, 0); buf_le32(&f, 1);
        buf_le32(&f, d->len); buf_u8(&f, 8); buf_u8(&f, 0); buf_u8(&f, 0); buf_u8(&f, 0);
        buf_le32(&f, 0xFFFFFFFFu);
        buf_put(&f, d->p, d->len);
    }
    if (f.oom || f.len == 0 || host_flush(f.p, f.len) != 0) {
        fprintf(stderr, "squall: the JavaScript runtime failed: %s\n", fallback);
        fflush(stderr);
    }
    buf_free(&f);
}

// fail reports the pending exception as an ERROR effect and returns FAILED.
static int32_t fail(const char *what) {
    buf_t d = {0};
    error_detail(ctx, what, &d);
    flush_error(&d, what);
    buf_free(&d);
    return STATUS_FAILED;
}

// fail_msg reports a plain message as an ERROR effect and returns FAILED.
static int32_t fail_msg(const char *kind, const char *msg) {
    buf_t d = {0};
    mp_map_header(&d, 2);
    mp_str(&d, "kind", 4);
    mp_str(&d, kind, strlen(kind));
    mp_str(&d, "message", 7);
    mp_str(&d, msg, strlen(msg));
    flush_error(&d, msg);
    buf_free(&d);
    return STATUS_FAILED;
}

// --- set-up ---------------------------------------------------------------

static int new_vm(void) {
    rt = JS_NewRuntime();
    if (!rt) return 0;
    JS_SetMaxStackSize(rt, JS_STACK_LIMIT);
    // Function.prototype.toString needs no source text; line numbers stay.
    JS_SetStripInfo(rt, JS_STRIP_SOURCE);
    ctx = JS_NewContext(rt);
    if (!ctx) return 0;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue sq = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, sq, squall_funcs, sizeof squall_funcs / sizeof squall_funcs[0]);
    JS_SetPropertyStr(ctx, global, "__squall", sq);
    JSValue con = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, con, console_funcs, sizeof console_funcs / sizeof console_funcs[0]);
    JS_SetPropertyStr(ctx, global, "console", con);
    JS_FreeValue(ctx, global);
    return 1;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf_t b = {0};
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&b, chunk, n);
    int bad = ferror(f) || b.oom;
    fclose(f);
    if (bad) { buf_free(&b); return NULL; }
    buf_u8(&b, 0); // JS_Eval wants a NUL after the source
    if (b.oom) { buf_free(&b); return NULL; }
    *len = b.len - 1;
    return b.p;
}

// load_bundle evaluates the bundle and picks up __squallEntry; a failure is
// kept in load_error and reported by every squall_init.
static void load_bundle(void) {
    loaded = 1;
    if (!new_vm()) {
        mp_map_header(&load_error, 1);
        mp_str(&load_error, "message", 7);
        const char *m = "squall: cannot create the JavaScript runtime: out of memory";
        mp_str(&load_error, m, strlen(m));
        return;
    }
    size_t n;
    JSValue r;
    uint8_t *code = read_file(SQUALL_BUNDLE_BC, &n);
    if (code) {
        JSValue fn = JS_ReadObject(ctx, code, n, JS_READ_OBJ_BYTECODE);
        free(code);
        r = JS_IsException(fn) ? fn : JS_EvalFunction(ctx, fn);
    } else if ((code = read_file(SQUALL_BUNDLE_JS, &n))) {
        r = JS_Eval(ctx, (const char *)code, n, SQUALL_BUNDLE_NAME, JS_EVAL_TYPE_GLOBAL);
        free(code);
    } else {
        const char *m = "squall: the module has no JavaScript bundle (" SQUALL_BUNDLE_BC " or " SQUALL_BUNDLE_JS
                        "); build it with `squall build`, which packs the bundle into the .wasm";
        mp_map_header(&load_error, 1);
        mp_str(&load_error, "message", 7);
        mp_str(&load_error, m, strlen(m));
        return;
    }
    if (JS_IsException(r)) {
        error_detail(ctx, "evaluating the module's code: ", &load_error);
        return;
    }
    JS_FreeValue(ctx, r);
    JSValue global = JS_GetGlobalObject(ctx);
    entry = JS_GetPropertyStr(ctx, global, "__squallEntry");
    JS_FreeValue(ctx, global);
    if (JS_IsObject(entry)) {
        entry_init = JS_GetPropertyStr(ctx, entry, "init");
        entry_process = JS_GetPropertyStr(ctx, entry, "process");
    }
    if (!JS_IsFunction(ctx, entry_init) || !JS_IsFunction(ctx, entry_process)) {
        const char *m = "squall: the module's code defined no Squall module (globalThis.__squallEntry with init "
                        "and process functions is missing); define it with @squall/sdk in the entry file";
        mp_map_header(&load_error, 1);
        mp_str(&load_error, "message", 7);
        mp_str(&load_error, m, strlen(m));
    }
}

// call_entry calls fn(view of inbox[0:len]) and returns its status.
static int32_t call_entry(JSValueConst fn, int32_t len, const char *what) {
    if (len < 0 || (size_t)len > inbox_cap) {
        return fail_msg("squall", "squall: the host passed a frame length outside the inbox");
    }
    // The view aliases the inbox (no copy); it is detached after the call so
    // that JS code cannot keep reading bytes the host overwrites later.
    JSValue ab = JS_NewArrayBuffer(ctx, inbox, len, NULL, NULL, 0);
    if (JS_IsException(ab)) return fail(what);
    JSValue view = new_u8(ctx, ab);
    if (JS_IsException(view)) { JS_FreeValue(ctx, ab); return fail(what); }
    JSValue r = JS_Call(ctx, fn, entry, 1, (JSValueConst *)&view);
    JS_DetachArrayBuffer(ctx, ab);
    JS_FreeValue(ctx, view);
    JS_FreeValue(ctx, ab);
    if (JS_IsException(r)) return fail(what);
    int32_t status;
    if (!JS_IsNumber(r) || JS_ToInt32(ctx, &status, r) != 0) {
        JS_FreeValue(ctx, r);
        return fail_msg("squall", "squall: __squallEntry returned something other than a call status number");
    }
    return status;
}

// --- exports --------------------------------------------------------------

// squall_abi_1_1 is the version marker (§2.4, §15): the runtime is shared
// by every TypeScript module, so it claims 1.1, which a 1.1 host accepts
// whether or not the module uses a 1.1 feature (RATIONALE.md).
EXPORT("squall_abi_1_1") void squall_abi_1_1(void) {}

EXPORT("squall_inbox") int32_t squall_inbox(int32_t min_cap) {
    if (min_cap < 0) return 0;
    if ((size_t)min_cap <= inbox_cap && inbox) return (int32_t)(uintptr_t)inbox;
    // +1: squall_compile appends a NUL after the source it is given.
    uint8_t *p = malloc((size_t)min_cap + 1);
    if (!p) return 0;
    free(inbox);
    inbox = p;
    inbox_cap = (size_t)min_cap;
    return (int32_t)(uintptr_t)inbox;
}

EXPORT("squall_init") int32_t squall_init(int32_t len) {
    if (!loaded) load_bundle();
    if (load_error.len > 0 || load_error.oom) {
        flush_error(&load_error, "the module's code could not be loaded");
        return STATUS_FAILED;
    }
    return call_entry(entry_init, len, "");
}

EXPORT("squall_process") int32_t squall_process(int32_t len) {
    if (!loaded || load_error.len > 0 || load_error.oom) {
        return fail_msg("squall", "squall: squall_process before a successful squall_init");
    }
    return call_entry(entry_process, len, "");
}

// squall_compile is for `squall build` only (the host never calls it): it
// compiles the script in inbox[0:len] (named bundle.js) to QuickJS bytecode
// and returns a pointer to {u32 status (0 ok, 1 syntax error), u32 n, n
// bytes of bytecode or of the error message}, valid until the next call.
EXPORT("squall_compile") int32_t squall_compile(int32_t len) {
    static buf_t res;
    res.len = 0;
    if (!ctx && !new_vm()) return 0;
    if (len < 0 || (size_t)len > inbox_cap) return 0;
    inbox[len] = 0;
    JSValue fn = JS_Eval(ctx, (const char *)inbox, len, SQUALL_BUNDLE_NAME, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(fn)) {
        JSValue exc = JS_GetException(ctx);
        JSValue s = JS_ToString(ctx, exc);
        size_t n = 0;
        const char *m = JS_ToCStringLen(ctx, &n, s);
        buf_le32(&res, 1);
        buf_le32(&res, m ? n : 0);
        if (m) { buf_put(&res, m, n); JS_FreeCString(ctx, m); }
        JS_FreeValue(ctx, s);
        JS_FreeValue(ctx, exc);
    } else {
        size_t n;
        uint8_t *bc = JS_WriteObject(ctx, &n, fn, JS_WRITE_OBJ_BYTECODE);
        JS_FreeValue(ctx, fn);
        if (!bc) return 0;
        buf_le32(&res, 0);
        buf_le32(&res, n);
        buf_put(&res, bc, n);
        js_free(ctx, bc);
    }
    return res.oom ? 0 : (int32_t)(uintptr_t)res.p;
}

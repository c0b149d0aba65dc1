// Shared declarations of Squall's QuickJS runtime (see runtime.c).
#ifndef SQUALL_RUNTIME_H
#define SQUALL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "quickjs.h"

// A growable byte buffer (MessagePack writer, frames).
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom; // set when a grow failed; later writes are dropped
} buf_t;

void buf_reserve(buf_t *b, size_t n);
void buf_put(buf_t *b, const void *p, size_t n);
void buf_u8(buf_t *b, uint8_t v);
void buf_be16(buf_t *b, uint16_t v);
void buf_be32(buf_t *b, uint32_t v);
void buf_be64(buf_t *b, uint64_t v);
void buf_free(buf_t *b);

// MessagePack writer helpers (canonical shortest forms).
void mp_str(buf_t *b, const char *s, size_t n);
void mp_map_header(buf_t *b, uint32_t n);

// msgpack.c: __squall.encode / __squall.decode.
JSValue squall_encode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);
JSValue squall_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);

// sourcemap.c: maps "bundle.js:LINE:COL" positions in a stack trace to the
// TypeScript sources, using /squall/app/bundle.js.map (loaded on first use).
// Returns a new JS string, or the stack unchanged when there is no map.
JSValue squall_map_stack(JSContext *ctx, JSValueConst stack);
JSValue squall_js_map_stack(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);

// The bytes of a Uint8Array (or ArrayBuffer) argument; NULL with a pending
// TypeError otherwise.
uint8_t *squall_bytes(JSContext *ctx, JSValueConst v, size_t *len);
// A new Uint8Array holding a copy of p[0:n].
JSValue squall_new_bytes(JSContext *ctx, const uint8_t *p, size_t n);

// The file names inside the artifact's file tree (abi.FilesMount).
#define SQUALL_BUNDLE_JS "/squall/app/bundle.js"
#define SQUALL_BUNDLE_BC "/squall/app/bundle.qjsbc"
#define SQUALL_BUNDLE_MAP "/squall/app/bundle.js.map"
// The script name the bundle is compiled under; stack frames show it.
#define SQUALL_BUNDLE_NAME "bundle.js"

#endif

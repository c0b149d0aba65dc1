// Source-map support: stack traces of the bundle name positions in
// bundle.js; users wrote TypeScript. `squall build` ships esbuild's source
// map (version 3, sources relative to the project folder) next to the
// bundle, and this file rewrites every "bundle.js:LINE:COL" of a stack into
// "SOURCE:LINE:COL" of the original file. The map is decoded once, on the
// first stack that needs it, into a table of segments per generated line.
#include <stdlib.h>
#include <string.h>

#include "squall.h"

typedef struct {
    int32_t gen_col; // 0-based column in the generated line
    int32_t src;     // index in sources, -1 for a segment without a source
    int32_t line;    // 0-based line in the source
    int32_t col;     // 0-based column in the source
} segment_t;

static int sm_state;            // 0 not loaded, 1 loaded, -1 no usable map
static segment_t *segs;
static size_t nsegs;
static size_t *line_start;      // segments of generated line i: [line_start[i], line_start[i+1])
static size_t nlines;
static char **sources;
static size_t nsources;

static int b64(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// vlq reads one base64 VLQ number at *p; 0 on malformed input.
static int vlq(const char **p, const char *end, int32_t *v) {
    uint32_t r = 0;
    int shift = 0;
    for (;;) {
        if (*p >= end || shift > 30) return 0;
        int d = b64(*(*p)++);
        if (d < 0) return 0;
        r |= (uint32_t)(d & 31) << shift;
        shift += 5;
        if (!(d & 32)) break;
    }
    *v = (r & 1) ? -(int32_t)(r >> 1) : (int32_t)(r >> 1);
    return 1;
}

static int decode_mappings(const char *p, const char *end) {
    size_t cap_s = 1024, cap_l = 256;
    segs = malloc(cap_s * sizeof *segs);
    line_start = malloc(cap_l * sizeof *line_start);
    if (!segs || !line_start) return 0;
    int32_t src = 0, line = 0, col = 0;
    nlines = 0;
    line_start[nlines++] = 0;
    int32_t gen_col = 0;
    while (p < end) {
        if (*p == ';') {
            p++;
            gen_col = 0;
            if (nlines + 1 >= cap_l) {
                cap_l *= 2;
                size_t *n = realloc(line_start, cap_l * sizeof *line_start);
                if (!n) return 0;
                line_start = n;
            }
            line_start[nlines++] = nsegs;
            continue;
        }
        if (*p == ',') { p++; continue; }
        int32_t f[5], nf = 0;
        while (p < end && *p != ',' && *p != ';' && nf < 5) {
            if (!vlq(&p, end, &f[nf])) return 0;
            nf++;
        }
        if (nf != 1 && nf != 4 && nf != 5) return 0;
        gen_col += f[0];
        segment_t s = {gen_col, -1, 0, 0};
        if (nf >= 4) {
            src += f[1];
            line += f[2];
            col += f[3];
            s.src = src;
            s.line = line;
            s.col = col;
        }
        if (nsegs == cap_s) {
            cap_s *= 2;
            segment_t *n = realloc(segs, cap_s * sizeof *segs);
            if (!n) return 0;
            segs = n;
        }
        segs[nsegs++] = s;
    }
    line_start[nlines] = nsegs; // sentinel: the end of the last line
    return 1;
}

// load reads and decodes the map; any problem leaves stacks unmapped.
static void load(JSContext *ctx) {
    sm_state = -1;
    FILE *f = fopen(SQUALL_BUNDLE_MAP, "rb");
    if (!f) return;
    buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&b, chunk, n);
    fclose(f);
    buf_u8(&b, 0);
    if (b.oom) { buf_free(&b); return; }
    JSValue m = JS_ParseJSON(ctx, (const char *)b.p, b.len - 1, SQUALL_BUNDLE_MAP);
    buf_free(&b);
    if (JS_IsException(m)) { JS_FreeValue(ctx, JS_GetException(ctx)); return; }
    JSValue srcs = JS_GetPropertyStr(ctx, m, "sources");
    JSValue maps = JS_GetPropertyStr(ctx, m, "mappings");
    JSValue lenv = JS_GetPropertyStr(ctx, srcs, "length");
    int32_t ns = 0;
    if (JS_IsArray(ctx, srcs) && JS_IsString(maps) && JS_ToInt32(ctx, &ns, lenv) == 0 && ns >= 0) {
        sources = calloc(ns ? ns : 1, sizeof *sources);
        nsources = sources ? ns : 0;
        for (size_t i = 0; i < nsources; i++) {
            JSValue s = JS_GetPropertyUint32(ctx, srcs, i);
            const char *c = JS_IsString(s) ? JS_ToCString(ctx, s) : NULL;
            sources[i] = strdup(c ? c : "?");
            if (c) JS_FreeCString(ctx, c);
            JS_FreeValue(ctx, s);
        }
        size_t ml;
        const char *mp = JS_ToCStringLen(ctx, &ml, maps);
        if (sources && mp && decode_mappings(mp, mp + ml)) sm_state = 1;
        if (mp) JS_FreeCString(ctx, mp);
    }
    if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
    JS_FreeValue(ctx, lenv);
    JS_FreeValue(ctx, srcs);
    JS_FreeValue(ctx, maps);
    JS_FreeValue(ctx, m);
}

// lookup maps a 1-based generated line and column (QuickJS's numbering).
static const segment_t *lookup(long line, long col) {
    if (line < 1 || (size_t)line > nlines) return NULL;
    size_t lo = line_start[line - 1], hi = line_start[line];
    const segment_t *best = NULL;
    // The last segment that starts at or before the column.
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (segs[mid].gen_col <= col - 1) { best = &segs[mid]; lo = mid + 1; }
        else hi = mid;
    }
    if (!best && line_start[line - 1] < line_start[line]) best = &segs[line_start[line - 1]];
    if (!best || best->src < 0 || (size_t)best->src >= nsources) return NULL;
    return best;
}

// At most this many frames of a stack are kept: QuickJS puts every frame
// of a stack overflow (thousands) into the trace, and error details are
// stored with dead letters.
#define MAX_FRAMES 64

JSValue squall_map_stack(JSContext *ctx, JSValueConst stack) {
    size_t n;
    const char *s = JS_ToCStringLen(ctx, &n, stack);
    if (!s) return JS_EXCEPTION;
    if (sm_state == 0) load(ctx);
    // Cut after MAX_FRAMES lines, counting the rest.
    size_t keep = n, lines = 0, more = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n') continue;
        if (++lines == MAX_FRAMES) keep = i + 1;
        else if (lines > MAX_FRAMES) more++;
    }
    if (keep < n && s[n - 1] != '\n') more++;
    if (sm_state != 1 && more == 0) {
        JS_FreeCString(ctx, s);
        return JS_DupValue(ctx, stack);
    }
    n = keep;
    static const char name[] = SQUALL_BUNDLE_NAME ":";
    const size_t nl = sizeof name - 1;
    buf_t o = {0};
    const char *p = s, *end = s + n;
    while (sm_state == 1 && p < end) {
        const char *hit = strstr(p, name);
        if (!hit || hit >= end) { buf_put(&o, p, end - p); break; }
        const char *q = hit + nl;
        char *e1, *e2;
        long line = strtol(q, &e1, 10);
        long col = (e1 > q && *e1 == ':') ? strtol(e1 + 1, &e2, 10) : 0;
        const segment_t *sg = (e1 > q && *e1 == ':' && e2 > e1 + 1) ? lookup(line, col) : NULL;
        if (!sg) {
            buf_put(&o, p, q - p);
            p = q;
            continue;
        }
        buf_put(&o, p, hit - p);
        char tail[48];
        int tl = snprintf(tail, sizeof tail, ":%d:%d", sg->line + 1, sg->col + 1);
        buf_put(&o, sources[sg->src], strlen(sources[sg->src]));
        buf_put(&o, tail, tl);
        p = e2;
    }
    if (sm_state != 1) buf_put(&o, s, n);
    if (more > 0) {
        char note[64];
        int nl2 = snprintf(note, sizeof note, "    ... %zu more frames\n", more);
        buf_put(&o, note, nl2);
    }
    JS_FreeCString(ctx, s);
    if (o.oom) { buf_free(&o); return JS_DupValue(ctx, stack); }
    JSValue r = JS_NewStringLen(ctx, o.p ? (const char *)o.p : "", o.len);
    buf_free(&o);
    return r;
}

// __squall.mapStack(stack: string): string
JSValue squall_js_map_stack(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    if (argc < 1 || !JS_IsString(argv[0])) return JS_ThrowTypeError(ctx, "squall: mapStack expects a string");
    return squall_map_stack(ctx, argv[0]);
}

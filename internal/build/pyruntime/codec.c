/* _squall.packb / _squall.unpackb: canonical MessagePack (abi/doc.go) in C,
 * with the value mapping of the SDK's pure-Python codec (squall._codec).
 *
 * The C code handles the common shapes: exact None, bool, int (64-bit),
 * float, str, bytes, bytearray, list, tuple, dict and set/frozenset, and,
 * when decoding, maps and sets whose keys or elements are scalars other than
 * floats, written in canonical order. For anything else — other types
 * (dataclasses, Mapping, ValueSet, __squall__), values the pure codec
 * rejects, keys Python considers equal, non-canonical or malformed input —
 * it hands the whole value to the pure-Python codec, so results and errors
 * are exactly the SDK's. The pure functions are taken from squall._codec
 * when _squall is first imported (the SDK imports it before it installs the
 * C codec in place of the pure one). */
#include "shim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

static PyObject *py_packb, *py_unpackb; /* squall._codec's pure functions */

/* ---- encoding ---- */

typedef struct {
  uint8_t *p;
  size_t len, cap;
} wbuf;

enum { ENC_OK = 0, ENC_ERROR = -1, ENC_FALLBACK = 1 };

static int w_grow(wbuf *w, size_t n) {
  if (w->len + n <= w->cap) return ENC_OK;
  size_t cap = w->cap ? w->cap : 64;
  while (cap < w->len + n) cap *= 2;
  uint8_t *p = PyMem_Realloc(w->p, cap);
  if (p == NULL) {
    PyErr_NoMemory();
    return ENC_ERROR;
  }
  w->p = p;
  w->cap = cap;
  return ENC_OK;
}

static int w_put(wbuf *w, const void *d, size_t n) {
  if (w_grow(w, n)) return ENC_ERROR;
  memcpy(w->p + w->len, d, n);
  w->len += n;
  return ENC_OK;
}

static int w_byte(wbuf *w, uint8_t c) { return w_put(w, &c, 1); }

/* w_be writes c followed by the k-byte big-endian v. */
static int w_be(wbuf *w, uint8_t c, uint64_t v, int k) {
  uint8_t s[9];
  s[0] = c;
  for (int i = 0; i < k; i++) s[1 + i] = (uint8_t)(v >> (8 * (k - 1 - i)));
  return w_put(w, s, 1 + k);
}

static int w_int(wbuf *w, long long n) {
  if (n >= 0) {
    if (n <= 0x7f) return w_byte(w, (uint8_t)n);
    if (n <= 0xff) return w_be(w, 0xcc, n, 1);
    if (n <= 0xffff) return w_be(w, 0xcd, n, 2);
    if (n <= 0xffffffffLL) return w_be(w, 0xce, n, 4);
    return w_be(w, 0xcf, n, 8);
  }
  if (n >= -32) return w_byte(w, (uint8_t)(int8_t)n);
  if (n >= -128) return w_be(w, 0xd0, (uint64_t)n, 1);
  if (n >= -32768) return w_be(w, 0xd1, (uint64_t)n, 2);
  if (n >= -2147483648LL) return w_be(w, 0xd2, (uint64_t)n, 4);
  return w_be(w, 0xd3, (uint64_t)n, 8);
}

/* w_len writes a length header: fix (| n) up to fixmax, else b16 or b32. */
static int w_len(wbuf *w, size_t n, uint8_t fix, size_t fixmax, uint8_t b16, uint8_t b32) {
  if (n <= fixmax) return w_byte(w, fix | (uint8_t)n);
  if (n <= 0xffff) return w_be(w, b16, n, 2);
  if (n > 0xffffffffu) return ENC_FALLBACK;
  return w_be(w, b32, n, 4);
}

static int enc(wbuf *w, PyObject *v, int depth);

/* An encoded key or element: its bytes in a scratch buffer, and its value. */
typedef struct {
  size_t off, len;
  PyObject *val;
} entry;

static const uint8_t *sort_base; /* for cmp_entry; sorting never re-enters enc */

static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(sort_base + x->off, sort_base + y->off, n);
  if (c != 0) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* enc_sorted encodes the keys (or elements) of a dict (or set) into a
 * scratch buffer, sorts them by their encoding and checks they are unique. */
static int enc_sorted(PyObject *v, int is_dict, int depth, wbuf *scratch, entry **out, Py_ssize_t *count) {
  Py_ssize_t n = is_dict ? PyDict_GET_SIZE(v) : PySet_GET_SIZE(v);
  entry *es = PyMem_Malloc(sizeof(entry) * (n ? n : 1));
  if (es == NULL) {
    PyErr_NoMemory();
    return ENC_ERROR;
  }
  Py_ssize_t pos = 0, i = 0;
  PyObject *key, *val;
  Py_hash_t hash;
  int st = ENC_OK;
  while (i < n && (is_dict ? PyDict_Next(v, &pos, &key, &val) : _PySet_NextEntry(v, &pos, &key, &hash))) {
    es[i].off = scratch->len;
    st = enc(scratch, key, depth + 1);
    if (st) break;
    es[i].len = scratch->len - es[i].off;
    es[i].val = is_dict ? val : NULL;
    i++;
  }
  if (st == ENC_OK && i != n) st = ENC_FALLBACK;
  if (st == ENC_OK) {
    sort_base = scratch->p;
    qsort(es, n, sizeof(entry), cmp_entry);
    for (Py_ssize_t j = 1; j < n; j++) {
      if (cmp_entry(&es[j - 1], &es[j]) == 0) {
        st = ENC_FALLBACK; /* two keys with one encoding: the pure codec says so */
        break;
      }
    }
  }
  if (st) {
    PyMem_Free(es);
    return st;
  }
  *out = es;
  *count = n;
  return ENC_OK;
}

static int enc(wbuf *w, PyObject *v, int depth) {
  PyTypeObject *t = Py_TYPE(v);
  if (t == &PyUnicode_Type) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) { /* a lone surrogate */
      PyErr_Clear();
      return ENC_FALLBACK;
    }
    int st;
    if (n <= 31) st = w_byte(w, 0xa0 | (uint8_t)n);
    else if (n <= 0xff) st = w_be(w, 0xd9, n, 1);
    else if (n <= 0xffff) st = w_be(w, 0xda, n, 2);
    else if ((size_t)n <= 0xffffffffu) st = w_be(w, 0xdb, n, 4);
    else return ENC_FALLBACK;
    return st ? st : w_put(w, s, n);
  }
  if (t == &PyLong_Type) {
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) return ENC_FALLBACK;
    if (n == -1 && PyErr_Occurred()) return ENC_ERROR;
    return w_int(w, n);
  }
  if (v == Py_None) return w_byte(w, 0xc0);
  if (t == &PyBool_Type) return w_byte(w, v == Py_True ? 0xc3 : 0xc2);
  if (t == &PyFloat_Type) {
    double d = PyFloat_AS_DOUBLE(v);
    uint64_t bits;
    if (isnan(d)) bits = 0x7ff8000000000000ULL; /* the one NaN */
    else memcpy(&bits, &d, 8);
    return w_be(w, 0xcb, bits, 8);
  }
  if (t == &PyList_Type || t == &PyTuple_Type) {
    if (depth >= MAX_DEPTH) return ENC_FALLBACK;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    int st = w_len(w, n, 0x90, 15, 0xdc, 0xdd);
    PyObject **items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; st == ENC_OK && i < n; i++) st = enc(w, items[i], depth + 1);
    return st;
  }
  if (t == &PyDict_Type) {
    if (depth >= MAX_DEPTH) return ENC_FALLBACK;
    wbuf scratch = {0};
    entry *es = NULL;
    Py_ssize_t n = 0;
    int st = enc_sorted(v, 1, depth, &scratch, &es, &n);
    if (st == ENC_OK) st = w_len(w, n, 0x80, 15, 0xde, 0xdf);
    for (Py_ssize_t i = 0; st == ENC_OK && i < n; i++) {
      st = w_put(w, scratch.p + es[i].off, es[i].len);
      if (st == ENC_OK) st = enc(w, es[i].val, depth + 1);
    }
    PyMem_Free(es);
    PyMem_Free(scratch.p);
    return st;
  }
  if (t == &PyBytes_Type || t == &PyByteArray_Type) {
    Py_ssize_t n = t == &PyBytes_Type ? PyBytes_GET_SIZE(v) : PyByteArray_GET_SIZE(v);
    const char *s = t == &PyBytes_Type ? PyBytes_AS_STRING(v) : PyByteArray_AS_STRING(v);
    int st;
    if (n <= 0xff) st = w_be(w, 0xc4, n, 1);
    else if (n <= 0xffff) st = w_be(w, 0xc5, n, 2);
    else if ((size_t)n <= 0xffffffffu) st = w_be(w, 0xc6, n, 4);
    else return ENC_FALLBACK;
    return st ? st : w_put(w, s, n);
  }
  if (t == &PySet_Type || t == &PyFrozenSet_Type) {
    if (depth >= MAX_DEPTH) return ENC_FALLBACK;
    wbuf scratch = {0}, payload = {0};
    entry *es = NULL;
    Py_ssize_t n = 0;
    int st = enc_sorted(v, 0, depth, &scratch, &es, &n);
    if (st == ENC_OK) st = w_len(&payload, n, 0x90, 15, 0xdc, 0xdd);
    for (Py_ssize_t i = 0; st == ENC_OK && i < n; i++) st = w_put(&payload, scratch.p + es[i].off, es[i].len);
    if (st == ENC_OK) {
      size_t m = payload.len;
      switch (m) {
        case 1: st = w_be(w, 0xd4, 1, 1); break;
        case 2: st = w_be(w, 0xd5, 1, 1); break;
        case 4: st = w_be(w, 0xd6, 1, 1); break;
        case 8: st = w_be(w, 0xd7, 1, 1); break;
        case 16: st = w_be(w, 0xd8, 1, 1); break;
        default:
          if (m <= 0xff) st = w_be(w, 0xc7, m, 1);
          else if (m <= 0xffff) st = w_be(w, 0xc8, m, 2);
          else if (m <= 0xffffffffu) st = w_be(w, 0xc9, m, 4);
          else st = ENC_FALLBACK;
          if (st == ENC_OK) st = w_byte(w, 1);
      }
      if (st == ENC_OK) st = w_put(w, payload.p, m);
    }
    PyMem_Free(es);
    PyMem_Free(scratch.p);
    PyMem_Free(payload.p);
    return st;
  }
  return ENC_FALLBACK; /* any other type: the pure codec knows it, or says why not */
}

static PyObject *no_fallback(const char *what) {
  PyErr_Format(PyExc_RuntimeError,
               "_squall.%s: the value needs the pure-Python codec (squall._codec), which was not found when _squall was imported", what);
  return NULL;
}

PyObject *squall_packb(PyObject *self, PyObject *v) {
  /* The common payloads first: a short string, a small int. */
  if (PyUnicode_CheckExact(v)) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s != NULL && n <= 31) {
      PyObject *b = PyBytes_FromStringAndSize(NULL, n + 1);
      if (b == NULL) return NULL;
      PyBytes_AS_STRING(b)[0] = (char)(0xa0 | n);
      memcpy(PyBytes_AS_STRING(b) + 1, s, n);
      return b;
    }
    PyErr_Clear();
  }
  wbuf w = {0};
  int st = enc(&w, v, 0);
  if (st == ENC_OK) {
    PyObject *b = PyBytes_FromStringAndSize((const char *)w.p, w.len);
    PyMem_Free(w.p);
    return b;
  }
  PyMem_Free(w.p);
  if (st == ENC_ERROR) return NULL;
  if (py_packb == NULL) return no_fallback("packb");
  return PyObject_CallOneArg(py_packb, v);
}

/* ---- decoding ---- */

typedef struct {
  const uint8_t *b;
  size_t n;
  int fallback; /* set when the pure codec must decide */
} dec_t;

static uint64_t be(const uint8_t *p, int k) {
  uint64_t v = 0;
  for (int i = 0; i < k; i++) v = v << 8 | p[i];
  return v;
}

static PyObject *dec(dec_t *d, size_t *pos, int depth);

/* FALLBACK stops decoding; the pure codec decodes the input again. */
#define FALLBACK() \
  do {             \
    d->fallback = 1; \
    return NULL;   \
  } while (0)

/* scalar_key reports whether the value at b[pos] is a scalar other than a
 * float: the keys and elements the fast path takes (their Python values
 * compare as their encodings do, except where dict/set sizes show it). */
static int scalar_key(uint8_t c) {
  return c <= 0x7f || c >= 0xe0 || (c >= 0xa0 && c <= 0xbf) || c == 0xc0 || c == 0xc2 || c == 0xc3 ||
         (c >= 0xc4 && c <= 0xc6) || (c >= 0xcc && c <= 0xd3) || (c >= 0xd9 && c <= 0xdb);
}

/* keys_increase reports whether the encoding b[a0:a1] sorts strictly
 * before b[b0:b1]. */
static int keys_increase(const uint8_t *b, size_t a0, size_t a1, size_t b0, size_t b1) {
  size_t la = a1 - a0, lb = b1 - b0, n = la < lb ? la : lb;
  int c = memcmp(b + a0, b + b0, n);
  return c < 0 || (c == 0 && la < lb);
}

static PyObject *dec_str(dec_t *d, size_t *pos, size_t start, size_t n) {
  if (n > d->n - start) FALLBACK();
  PyObject *s = PyUnicode_DecodeUTF8((const char *)d->b + start, n, "strict");
  if (s == NULL) {
    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return NULL;
    PyErr_Clear();
    FALLBACK();
  }
  *pos = start + n;
  return s;
}

static PyObject *dec_array(dec_t *d, size_t *pos, size_t n, int depth) {
  if (depth >= MAX_DEPTH || n > d->n - *pos) FALLBACK();
  PyObject *list = PyList_New(n);
  if (list == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    PyObject *x = dec(d, pos, depth + 1);
    if (x == NULL) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, i, x);
  }
  return list;
}

static PyObject *dec_map(dec_t *d, size_t *pos, size_t n, int depth) {
  if (depth >= MAX_DEPTH || n > (d->n - *pos) / 2) FALLBACK();
  PyObject *dict = PyDict_New();
  if (dict == NULL) return NULL;
  size_t prev0 = 0, prev1 = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k0 = *pos;
    if (k0 >= d->n || !scalar_key(d->b[k0])) goto fallback;
    PyObject *k = dec(d, pos, depth + 1);
    if (k == NULL) goto fail;
    if (i > 0 && !keys_increase(d->b, prev0, prev1, k0, *pos)) {
      Py_DECREF(k);
      goto fallback;
    }
    prev0 = k0;
    prev1 = *pos;
    PyObject *v = dec(d, pos, depth + 1);
    if (v == NULL) {
      Py_DECREF(k);
      goto fail;
    }
    int st = PyDict_SetItem(dict, k, v);
    Py_DECREF(k);
    Py_DECREF(v);
    if (st < 0) goto fail;
  }
  if ((size_t)PyDict_GET_SIZE(dict) != n) goto fallback; /* 1 and True: a FrozenMap */
  return dict;
fallback:
  d->fallback = 1;
fail:
  Py_DECREF(dict);
  return NULL;
}

static PyObject *dec_set(dec_t *d, size_t start, size_t end, int depth) {
  /* The payload b[start:end] must be one array of canonical, distinct
   * scalar elements; anything else is the pure codec's to judge. */
  if (depth >= MAX_DEPTH || start >= end) FALLBACK();
  uint8_t c = d->b[start];
  size_t pos = start, n;
  if (c >= 0x90 && c <= 0x9f) {
    n = c & 0x0f;
    pos += 1;
  } else if ((c == 0xdc || c == 0xdd) && end - start > (c == 0xdc ? 2u : 4u)) {
    int k = c == 0xdc ? 2 : 4;
    n = be(d->b + start + 1, k);
    pos += 1 + k;
  } else {
    FALLBACK();
  }
  if (n > end - pos) FALLBACK();
  PyObject *set = PySet_New(NULL);
  if (set == NULL) return NULL;
  dec_t sub = {d->b, end, 0};
  size_t prev0 = 0, prev1 = 0;
  for (size_t i = 0; i < n; i++) {
    size_t e0 = pos;
    if (e0 >= end || !scalar_key(d->b[e0])) goto fallback;
    PyObject *x = dec(&sub, &pos, depth + 1);
    if (x == NULL) {
      if (sub.fallback) goto fallback;
      goto fail;
    }
    if (i > 0 && !keys_increase(d->b, prev0, prev1, e0, pos)) {
      Py_DECREF(x);
      goto fallback;
    }
    prev0 = e0;
    prev1 = pos;
    int st = PySet_Add(set, x);
    Py_DECREF(x);
    if (st < 0) goto fail;
  }
  if (pos != end || (size_t)PySet_GET_SIZE(set) != n) goto fallback;
  return set;
fallback:
  d->fallback = 1;
fail:
  Py_DECREF(set);
  return NULL;
}

static PyObject *dec(dec_t *d, size_t *pos, int depth) {
  const uint8_t *b = d->b;
  size_t p = *pos;
  if (p >= d->n) FALLBACK();
  uint8_t c = b[p];
  size_t left = d->n - p - 1; /* bytes after the type byte */
  if (c <= 0x7f) {
    *pos = p + 1;
    return PyLong_FromLong(c);
  }
  if (c >= 0xe0) {
    *pos = p + 1;
    return PyLong_FromLong((long)c - 0x100);
  }
  if (c >= 0xa0 && c <= 0xbf) return dec_str(d, pos, p + 1, c & 0x1f);
  if (c >= 0x90 && c <= 0x9f) {
    *pos = p + 1;
    return dec_array(d, pos, c & 0x0f, depth);
  }
  if (c >= 0x80 && c <= 0x8f) {
    *pos = p + 1;
    return dec_map(d, pos, c & 0x0f, depth);
  }
  switch (c) {
    case 0xc0: *pos = p + 1; Py_RETURN_NONE;
    case 0xc2: *pos = p + 1; Py_RETURN_FALSE;
    case 0xc3: *pos = p + 1; Py_RETURN_TRUE;
    case 0xcb: {
      if (left < 8) FALLBACK();
      uint64_t bits = be(b + p + 1, 8);
      double v;
      memcpy(&v, &bits, 8);
      *pos = p + 9;
      return PyFloat_FromDouble(isnan(v) ? NAN : v);
    }
    case 0xca: {
      if (left < 4) FALLBACK();
      uint32_t bits = (uint32_t)be(b + p + 1, 4);
      float f;
      memcpy(&f, &bits, 4);
      *pos = p + 5;
      return PyFloat_FromDouble(isnan(f) ? NAN : (double)f);
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      int k = 1 << (c - 0xcc);
      if (left < (size_t)k) FALLBACK();
      uint64_t v = be(b + p + 1, k);
      if (v > INT64_MAX) FALLBACK();
      *pos = p + 1 + k;
      return PyLong_FromLongLong((long long)v);
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      int k = 1 << (c - 0xd0);
      if (left < (size_t)k) FALLBACK();
      uint64_t v = be(b + p + 1, k);
      int64_t s = k == 8 ? (int64_t)v : (int64_t)(v ^ (1ULL << (8 * k - 1))) - (int64_t)(1ULL << (8 * k - 1));
      *pos = p + 1 + k;
      return PyLong_FromLongLong(s);
    }
    case 0xd9: case 0xda: case 0xdb: {
      int k = 1 << (c - 0xd9);
      if (left < (size_t)k) FALLBACK();
      return dec_str(d, pos, p + 1 + k, be(b + p + 1, k));
    }
    case 0xc4: case 0xc5: case 0xc6: {
      int k = 1 << (c - 0xc4);
      if (left < (size_t)k) FALLBACK();
      size_t n = be(b + p + 1, k), start = p + 1 + k;
      if (n > d->n - start) FALLBACK();
      *pos = start + n;
      return PyBytes_FromStringAndSize((const char *)b + start, n);
    }
    case 0xdc: case 0xdd: {
      int k = c == 0xdc ? 2 : 4;
      if (left < (size_t)k) FALLBACK();
      *pos = p + 1 + k;
      return dec_array(d, pos, be(b + p + 1, k), depth);
    }
    case 0xde: case 0xdf: {
      int k = c == 0xde ? 2 : 4;
      if (left < (size_t)k) FALLBACK();
      *pos = p + 1 + k;
      return dec_map(d, pos, be(b + p + 1, k), depth);
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
    case 0xc7: case 0xc8: case 0xc9: {
      size_t n, start;
      if (c >= 0xd4) {
        n = (size_t)1 << (c - 0xd4);
        start = p + 1;
      } else {
        int k = 1 << (c - 0xc7);
        if (left < (size_t)k) FALLBACK();
        n = be(b + p + 1, k);
        start = p + 1 + k;
      }
      if (start >= d->n || b[start] != 1) FALLBACK(); /* only ext 1, the set */
      start++;
      if (n > d->n - start) FALLBACK();
      PyObject *s = dec_set(d, start, start + n, depth);
      if (s != NULL) *pos = start + n;
      return s;
    }
  }
  FALLBACK(); /* 0xc1 and what the pure codec reports */
}

PyObject *squall_unpackb(PyObject *self, PyObject *arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
  const uint8_t *b = view.buf;
  size_t n = (size_t)view.len;
  /* The common payloads first: a short string or a small int alone. */
  if (n >= 1 && b[0] >= 0xa0 && b[0] <= 0xbf && n == 1u + (b[0] & 0x1f)) {
    PyObject *s = PyUnicode_DecodeUTF8((const char *)b + 1, n - 1, "strict");
    if (s != NULL || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
      PyBuffer_Release(&view);
      return s;
    }
    PyErr_Clear();
  } else if (n == 1 && b[0] <= 0x7f) {
    PyBuffer_Release(&view);
    return PyLong_FromLong(b[0]);
  }
  dec_t d = {b, n, 0};
  size_t pos = 0;
  PyObject *v = dec(&d, &pos, 0);
  PyBuffer_Release(&view);
  if (v != NULL && pos == n) return v;
  Py_XDECREF(v);
  if (v == NULL && !d.fallback) return NULL; /* MemoryError and the like */
  if (py_unpackb == NULL) return no_fallback("unpackb");
  return PyObject_CallOneArg(py_unpackb, arg); /* it raises the SDK's DecodeError */
}

/* squall_codec_init takes the pure codec from squall._codec, when the SDK
 * is there (it is imported when _squall is: the SDK imports _squall). */
int squall_codec_init(PyObject *module) {
  PyObject *codec = PyImport_ImportModule("squall._codec");
  if (codec == NULL) {
    PyErr_Clear(); /* no SDK (a test double): only the fast path works */
    return 0;
  }
  py_packb = PyObject_GetAttrString(codec, "packb");
  py_unpackb = PyObject_GetAttrString(codec, "unpackb");
  Py_DECREF(codec);
  PyErr_Clear();
  /* Already replaced by these very functions? Then there is no fallback. */
  if (py_packb != NULL && PyCFunction_Check(py_packb)) Py_CLEAR(py_packb);
  if (py_unpackb != NULL && PyCFunction_Check(py_unpackb)) Py_CLEAR(py_unpackb);
  return 0;
}

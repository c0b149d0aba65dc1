/* The built-in module _squall: the host functions of ABI v1 (ABI.md §7) for
 * the pure-Python SDK (squall._wasm). Users never import it.
 *
 *   flush(frame) -> int      submit an effects frame (any bytes-like object);
 *                            returns flush's result: 0, or n > 0 rejections
 *                            parked for take(); raises HostError on errno
 *   query(frame) -> bytes    run a query frame; returns the response frame,
 *                            fetching a parked one with take as needed
 *   take() -> bytes          fetch the parked result (the rejection list
 *                            after a flush that returned n > 0)
 *   HostError(errno, message)  a negative host result; .errno, .message
 *   packb(value) -> bytes, unpackb(data) -> value
 *                            the SDK's canonical MessagePack codec in C
 *                            (codec.c), falling back to squall._codec
 */
#include "shim.h"

#include <string.h>

static const char *const errno_names[] = {"", "EINVAL", "ENOENT", "EBADID", "ETOOBIG", "EWRONGPART", "EQUOTA",
                                          "ESTATE", "EINTERNAL", "EPATH", "ESCHEMA", "EMULTI"};
static const char *const errno_texts[] = {"",
                                          "malformed frame or argument",
                                          "nothing parked",
                                          "no such depot, PState, topology, stage or stream",
                                          "size limit exceeded",
                                          "key belongs to another partition",
                                          "quota exceeded",
                                          "not allowed in this state",
                                          "host failure",
                                          "bad path",
                                          "value does not fit the schema",
                                          "more than one value"};
#define N_ERRNO ((int32_t)(sizeof errno_names / sizeof errno_names[0]))

const char *squall_errno_name(int32_t code) {
  return code < 0 && -code < N_ERRNO ? errno_names[-code] : "errno";
}

const char *squall_errno_text(int32_t code) {
  return code < 0 && -code < N_ERRNO ? errno_texts[-code] : "unknown error";
}

static PyObject *HostError;

/* host_error raises HostError(code, "flush: EINVAL: malformed frame or argument"). */
static PyObject *host_error(const char *fn, int32_t code) {
  PyObject *msg = PyUnicode_FromFormat("%s: %s (%d): %s", fn, squall_errno_name(code), (int)code, squall_errno_text(code));
  if (msg == NULL) return NULL;
  PyObject *exc = PyObject_CallFunction(HostError, "iO", (int)code, msg);
  if (exc != NULL) {
    PyObject *num = PyLong_FromLong(code);
    if (num == NULL || PyObject_SetAttrString(exc, "errno", num) < 0 || PyObject_SetAttrString(exc, "message", msg) < 0) {
      Py_CLEAR(exc);
    }
    Py_XDECREF(num);
  }
  Py_DECREF(msg);
  if (exc == NULL) return NULL;
  PyErr_SetObject(HostError, exc);
  Py_DECREF(exc);
  return NULL;
}

/* Results usually fit here; a larger one is taken into a bytes object of
 * its exact size. */
#define OUT_CAP (64 * 1024)
static uint8_t out_buf[OUT_CAP];

/* take_into returns the parked result of size n (> OUT_CAP) as bytes. */
static PyObject *take_sized(int32_t n) {
  for (;;) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (b == NULL) return NULL;
    int32_t m = squall_host_take((uint8_t *)PyBytes_AS_STRING(b), n);
    if (m < 0) {
      Py_DECREF(b);
      return host_error("take", m);
    }
    if (m <= n) {
      if (m < n && _PyBytes_Resize(&b, m) < 0) return NULL;
      return b;
    }
    Py_DECREF(b); /* cannot happen with a correct host: it said n */
    n = m;
  }
}

static PyObject *squall_flush(PyObject *self, PyObject *arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
  if (view.len > INT32_MAX) {
    PyBuffer_Release(&view);
    PyErr_SetString(PyExc_ValueError, "flush: frame larger than 2 GiB");
    return NULL;
  }
  int32_t n = squall_host_flush(view.buf, (int32_t)view.len);
  PyBuffer_Release(&view);
  if (n < 0) return host_error("flush", n);
  return PyLong_FromLong(n);
}

static PyObject *squall_query(PyObject *self, PyObject *arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
  if (view.len > INT32_MAX) {
    PyBuffer_Release(&view);
    PyErr_SetString(PyExc_ValueError, "query: frame larger than 2 GiB");
    return NULL;
  }
  int32_t n = squall_host_query(view.buf, (int32_t)view.len, out_buf, OUT_CAP);
  PyBuffer_Release(&view);
  if (n < 0) return host_error("query", n);
  if (n <= OUT_CAP) return PyBytes_FromStringAndSize((const char *)out_buf, n);
  return take_sized(n);
}

static PyObject *squall_take(PyObject *self, PyObject *unused) {
  int32_t n = squall_host_take(out_buf, OUT_CAP);
  if (n < 0) return host_error("take", n);
  if (n <= OUT_CAP) return PyBytes_FromStringAndSize((const char *)out_buf, n);
  return take_sized(n);
}


/* codec.c */
PyObject *squall_packb(PyObject *self, PyObject *arg);
PyObject *squall_unpackb(PyObject *self, PyObject *arg);
int squall_codec_init(PyObject *module);

static PyMethodDef methods[] = {
    {"flush", squall_flush, METH_O, "flush(frame) -> int: submit an effects frame (ABI flush)."},
    {"query", squall_query, METH_O, "query(frame) -> bytes: run a query frame, return the response frame."},
    {"take", squall_take, METH_NOARGS, "take() -> bytes: fetch the parked result (ABI take)."},
    {"packb", squall_packb, METH_O, "packb(value) -> bytes: canonical MessagePack, as squall._codec.packb."},
    {"unpackb", squall_unpackb, METH_O, "unpackb(data) -> value: as squall._codec.unpackb."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_squall",
    "Host functions of the Squall ABI for the Python SDK (internal; use the squall package).", -1, methods,
};

PyObject *PyInit__squall(void) {
  PyObject *m = PyModule_Create(&module_def);
  if (m == NULL) return NULL;
  HostError = PyErr_NewExceptionWithDoc("_squall.HostError",
                                        "A host function of the Squall ABI returned a negative errno: "
                                        "args are (errno, message); also .errno and .message.",
                                        PyExc_Exception, NULL);
  if (HostError == NULL || PyModule_AddObjectRef(m, "HostError", HostError) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  if (squall_codec_init(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}

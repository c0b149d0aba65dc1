/* The Squall Python runtime's ABI exports (ABI.md §2.3).
 *
 * squall_init and squall_process start the interpreter on first use (so a
 * failure can still be reported as an ERROR effect, which _initialize could
 * not do), then hand the frame to the pure-Python SDK: squall._wasm.init(frame)
 * and squall._wasm.process(frame), each given a read-only memoryview of the
 * inbox bytes of that call and returning the call status (§9.1). Anything
 * Python raises out of them, and any failure to start, becomes an ERROR
 * effect whose detail carries the formatted traceback, and status FAILED:
 * the guest never traps on a Python error. */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

/* The version marker (§2.4, §15): never called. The runtime is built once
 * for every Python module, so it cannot mark each module with the lowest
 * minor its definition needs; it marks 1.1, which a 1.1 host accepts for a
 * definition of either minor (RATIONALE.md, "Why does the Python runtime
 * always export squall_abi_1_1?"). */
__attribute__((export_name("squall_abi_1_1"))) void squall_abi_1_1(void) {}

/* The inbox: malloc'd, so never moved; replaced only when the host asks for
 * more (between calls, when no memoryview of it is alive). */
static uint8_t *inbox;
static size_t inbox_cap;

__attribute__((export_name("squall_inbox"))) int32_t squall_inbox(int32_t min_cap) {
  if (min_cap < 0) return 0;
  if (inbox != NULL && (size_t)min_cap <= inbox_cap) return (int32_t)(uintptr_t)inbox;
  size_t cap = (size_t)min_cap < 65536 ? 65536 : (size_t)min_cap;
  uint8_t *p = malloc(cap);
  if (p == NULL) return 0;
  free(inbox);
  inbox = p;
  inbox_cap = cap;
  return (int32_t)(uintptr_t)p;
}

/* ---- error details (ABI.md §6.3): a canonical MessagePack map ---- */

struct buf {
  uint8_t *p;
  size_t len, cap;
  int failed;
};

static void buf_put(struct buf *b, const void *data, size_t n) {
  if (b->failed) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void buf_u8(struct buf *b, uint8_t v) { buf_put(b, &v, 1); }

static void buf_le32(struct buf *b, uint32_t v) {
  uint8_t s[4] = {v, v >> 8, v >> 16, v >> 24};
  buf_put(b, s, 4);
}

/* Detail strings are cut to this many bytes: the operator needs the
 * message, not megabytes of repr. */
#define DETAIL_MAX (64 * 1024)

/* utf8_cut returns n, or less so as not to split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n) {
  if (n <= DETAIL_MAX) return n;
  n = DETAIL_MAX;
  while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) n--;
  return n;
}

static void mp_str(struct buf *b, const char *s, size_t n) {
  n = utf8_cut(s, n);
  if (n < 32) {
    buf_u8(b, 0xa0 | (uint8_t)n);
  } else if (n < 256) {
    buf_u8(b, 0xd9);
    buf_u8(b, (uint8_t)n);
  } else if (n < 65536) {
    buf_u8(b, 0xda);
    buf_u8(b, (uint8_t)(n >> 8));
    buf_u8(b, (uint8_t)n);
  } else {
    buf_u8(b, 0xdb);
    uint8_t s4[4] = {n >> 24, n >> 16, n >> 8, n};
    buf_put(b, s4, 4);
  }
  buf_put(b, s, n);
}

/* report_error flushes one ERROR effect (item NoItem) with the detail
 * {"kind", "message", "stack"} and returns FAILED (1). The keys are written
 * in canonical order: sorted by their encoded bytes, which for these short
 * strings is by length first (a4 "kind" < a5 "stack" < a7 "message"). */
static int32_t report_error(const char *kind, const char *message, const char *stack) {
  if (message == NULL || message[0] == '\0') message = "the Python runtime failed";
  struct buf detail = {0};
  int fields = 1 + (kind && kind[0]) + (stack && stack[0]);
  buf_u8(&detail, 0x80 | fields);
  if (kind && kind[0]) {
    mp_str(&detail, "kind", 4);
    mp_str(&detail, kind, strlen(kind));
  }
  if (stack && stack[0]) {
    mp_str(&detail, "stack", 5);
    mp_str(&detail, stack, strlen(stack));
  }
  mp_str(&detail, "message", 7);
  mp_str(&detail, message, strlen(message));

  struct buf frame = {0};
  const uint8_t header[8] = {1, 3, 0, 0, 1, 0, 0, 0}; /* version 1, effects, flags 0, count 1 */
  buf_put(&frame, header, sizeof header);
  buf_le32(&frame, (uint32_t)detail.len);
  const uint8_t eff[4] = {8, 0, 0, 0}; /* op ERROR, flags 0, target 0 */
  buf_put(&frame, eff, sizeof eff);
  buf_le32(&frame, 0xFFFFFFFFu); /* item: NoItem */
  buf_put(&frame, detail.p, detail.len);
  if (!detail.failed && !frame.failed) {
    squall_host_flush(frame.p, (int32_t)frame.len);
  }
  /* Out of memory: nothing can be reported; status FAILED still fails the
   * call, and the host says the guest returned FAILED without an ERROR. */
  free(detail.p);
  free(frame.p);
  return 1;
}

/* utf8_of returns a new UTF-8 copy of str(obj), or NULL. Clears errors. */
static char *utf8_of(PyObject *obj) {
  if (obj == NULL) return NULL;
  PyObject *s = PyUnicode_Check(obj) ? (Py_INCREF(obj), obj) : PyObject_Str(obj);
  if (s == NULL) {
    PyErr_Clear();
    return NULL;
  }
  PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
  Py_DECREF(s);
  if (b == NULL) {
    PyErr_Clear();
    return NULL;
  }
  char *out = strdup(PyBytes_AS_STRING(b));
  Py_DECREF(b);
  return out;
}

/* fetch_exception takes the raised exception (NULL if none) as one
 * normalised object with its traceback attached (CPython 3.11 API). */
static PyObject *fetch_exception(void) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  if (type == NULL) return NULL;
  PyErr_NormalizeException(&type, &value, &tb);
  if (value == NULL) {
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return NULL;
  }
  if (tb != NULL) PyException_SetTraceback(value, tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
}

/* report_exception reports the raised Python exception (and clears it):
 * kind = its type's name, message = the last line of the traceback, stack =
 * the whole formatted traceback. `what` says which step raised it. */
static int32_t report_exception(const char *what) {
  PyObject *exc = fetch_exception();
  if (exc == NULL) return report_error("RuntimeError", what, NULL);
  PyObject *type_name = PyType_GetName(Py_TYPE(exc));
  char *kind = utf8_of(type_name);
  Py_XDECREF(type_name);
  PyErr_Clear();
  char *stack = NULL, *last = NULL;
  PyObject *tb = PyImport_ImportModule("traceback");
  if (tb != NULL) {
    PyObject *lines = PyObject_CallMethod(tb, "format_exception", "O", exc);
    PyObject *only = PyObject_CallMethod(tb, "format_exception_only", "O", exc);
    PyObject *empty = PyUnicode_FromString("");
    if (lines && empty) {
      PyObject *joined = PyUnicode_Join(empty, lines);
      stack = utf8_of(joined);
      Py_XDECREF(joined);
    }
    if (only && empty) {
      PyObject *joined = PyUnicode_Join(empty, only);
      last = utf8_of(joined);
      Py_XDECREF(joined);
    }
    Py_XDECREF(lines);
    Py_XDECREF(only);
    Py_XDECREF(empty);
    Py_DECREF(tb);
  }
  PyErr_Clear();
  if (last == NULL) last = utf8_of(exc);
  /* "what: ValueError: bad thing" without the trailing newline. */
  size_t n = strlen(what) + 2 + (last ? strlen(last) : 0) + 1;
  char *message = malloc(n);
  if (message != NULL) {
    snprintf(message, n, "%s: %s", what, last ? last : "");
    size_t len = strlen(message);
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' ')) message[--len] = '\0';
  }
  int32_t st = report_error(kind, message ? message : what, stack);
  free(kind);
  free(stack);
  free(last);
  free(message);
  Py_DECREF(exc);
  return st;
}

/* ---- the interpreter ---- */

enum { NOT_STARTED, STARTED, START_FAILED };
static int state = NOT_STARTED;
static PyObject *sdk_init, *sdk_process; /* squall._wasm.init, .process */

static const wchar_t *const search_path[] = {
    L"/squall/app",
    L"/squall/site-packages",
    L"/squall/lib/python3.11",
    L"/squall/lib/python3.11/lib-dynload",
};

/* start_python initialises CPython (isolated: no environment, no site, no
 * user directories; UTF-8 mode; the module's file tree mounted at /squall
 * as the only search path) and imports squall._wasm. On failure it reports
 * and returns -1; the failure is final for this instance. */
static int start_python(void) {
  PyPreConfig pre;
  PyPreConfig_InitIsolatedConfig(&pre);
  pre.utf8_mode = 1;
  PyStatus status = Py_PreInitialize(&pre);
  if (PyStatus_Exception(status)) goto failed;

  if (PyImport_AppendInittab("_squall", PyInit__squall) < 0) {
    status = PyStatus_Error("cannot register the built-in module _squall");
    goto failed;
  }

  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.site_import = 0;
  config.write_bytecode = 0;     /* the file tree is read-only */
  config.buffered_stdio = 0;     /* the host may discard the instance any time: no lost prints */
  config.install_signal_handlers = 0;
  config.pathconfig_warnings = 0;
  config.parse_argv = 0;
  /* A fixed string hash: set iteration order is then the same in every
   * instance, so a retried batch replays the same effects (ABI.md §8). */
  config.use_hash_seed = 1;
  config.hash_seed = 0;
  status = PyConfig_SetString(&config, &config.program_name, L"squall-python");
  if (PyStatus_Exception(status)) goto config_failed;
  status = PyConfig_SetString(&config, &config.home, L"/squall");
  if (PyStatus_Exception(status)) goto config_failed;
  config.module_search_paths_set = 1;
  for (size_t i = 0; i < sizeof search_path / sizeof search_path[0]; i++) {
    status = PyWideStringList_Append(&config.module_search_paths, search_path[i]);
    if (PyStatus_Exception(status)) goto config_failed;
  }
  status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) goto failed;

  PyObject *mod = PyImport_ImportModule("squall._wasm");
  if (mod == NULL) {
    state = START_FAILED;
    report_exception("cannot import the Squall SDK (squall._wasm)");
    return -1;
  }
  sdk_init = PyObject_GetAttrString(mod, "init");
  sdk_process = sdk_init ? PyObject_GetAttrString(mod, "process") : NULL;
  Py_DECREF(mod);
  if (sdk_process == NULL) {
    state = START_FAILED;
    report_exception("the Squall SDK (squall._wasm) lacks init or process");
    return -1;
  }
  state = STARTED;
  return 0;

config_failed:
  PyConfig_Clear(&config);
failed:
  state = START_FAILED;
  {
    char message[512];
    snprintf(message, sizeof message, "the Python interpreter failed to start: %s%s%s",
             status.func ? status.func : "", status.func ? ": " : "",
             status.err_msg ? status.err_msg : "unknown error");
    report_error("PythonStartError", message, NULL);
  }
  return -1;
}

/* reseed_random reseeds the random module, if the module imported it, from
 * random_get, which the host seeds with the frame's seed at every call: the
 * same batch sees the same random numbers on every attempt and instance,
 * whatever the instance ran before (ABI.md §8). */
static void reseed_random(void) {
  static PyObject *name;
  if (name == NULL && (name = PyUnicode_InternFromString("random")) == NULL) {
    PyErr_Clear();
    return;
  }
  PyObject *random = PyImport_GetModule(name); /* NULL: not imported */
  if (random == NULL) {
    PyErr_Clear();
    return;
  }
  PyObject *r = PyObject_CallMethod(random, "seed", NULL); /* from os.urandom */
  Py_XDECREF(r);
  PyErr_Clear();
  Py_DECREF(random);
}

/* call runs fn(memoryview of inbox[0:len]) and returns its int result as the
 * call status. */
static int32_t call(PyObject **fn, const char *name, int32_t len) {
  if (state == NOT_STARTED && start_python() < 0) return 1;
  if (state != STARTED) return report_error("PythonStartError", "the Python interpreter failed to start earlier in this instance", NULL);
  if (len < 0 || inbox == NULL || (size_t)len > inbox_cap) {
    char message[160];
    snprintf(message, sizeof message, "%s: frame length %d does not fit the inbox of %zu bytes", name, (int)len, inbox_cap);
    return report_error("AbiError", message, NULL);
  }
  reseed_random();
  PyObject *view = PyMemoryView_FromMemory((char *)inbox, len, PyBUF_READ);
  if (view == NULL) return report_exception(name);
  PyObject *result = PyObject_CallOneArg(*fn, view);
  PyObject *type = NULL, *value = NULL, *tb = NULL;
  if (result == NULL) PyErr_Fetch(&type, &value, &tb);
  /* The view must not outlive the call: the host rewrites the inbox. A
   * view the SDK kept alive (a slice of it) makes release fail; harmless. */
  PyObject *released = PyObject_CallMethod(view, "release", NULL);
  if (released == NULL) PyErr_Clear();
  Py_XDECREF(released);
  Py_DECREF(view);
  if (result == NULL) {
    PyErr_Restore(type, value, tb);
    return report_exception(name);
  }
  long status = PyLong_AsLong(result);
  Py_DECREF(result);
  if (status == -1 && PyErr_Occurred()) return report_exception(name);
  return (int32_t)status;
}

__attribute__((export_name("squall_init"))) int32_t squall_init(int32_t len) {
  return call(&sdk_init, "squall._wasm.init", len);
}

__attribute__((export_name("squall_process"))) int32_t squall_process(int32_t len) {
  return call(&sdk_process, "squall._wasm.process", len);
}

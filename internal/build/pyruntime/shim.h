/* The Squall Python runtime's C shim: shared declarations of shim.c (the ABI
 * exports and the interpreter's life cycle) and squallmodule.c (the built-in
 * module _squall). See build.sh for how it is built. */
#ifndef SQUALL_SHIM_H
#define SQUALL_SHIM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Host functions of ABI v1 (ABI.md §7). */
__attribute__((import_module("squall_v1"), import_name("flush")))
int32_t squall_host_flush(const uint8_t *ptr, int32_t len);
__attribute__((import_module("squall_v1"), import_name("query")))
int32_t squall_host_query(const uint8_t *req, int32_t req_len, uint8_t *out, int32_t out_cap);
__attribute__((import_module("squall_v1"), import_name("take")))
int32_t squall_host_take(uint8_t *out, int32_t out_cap);

/* The initialiser of the built-in module _squall (squallmodule.c). */
PyObject *PyInit__squall(void);

/* The errno name and text of a negative host result ("EINVAL",
 * "malformed frame or argument"); "errno" and "unknown error" for others. */
const char *squall_errno_name(int32_t code);
const char *squall_errno_text(int32_t code);

#endif

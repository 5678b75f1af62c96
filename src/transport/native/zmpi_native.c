/*
 * Single-copy transfers between ranks on one machine (Linux cross-memory attach). A receiver reads
 * the sender's array straight out of the sender's address space with process_vm_readv, so a large
 * message is copied once, by the receiver, instead of twice through the loopback TCP stack.
 *
 * The JavaScript side (src/transport/cma.ts) decides when this is allowed: only after the receiver
 * has read a random token from the sender's memory and found it equal to the one the sender
 * published, which proves the pid and address name the right process.
 *
 * The shared-memory segments of the same-machine channel live in zmpi_shm.c; init registers them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <node_api.h>
#include "zmpi_native.h"

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

/* errno names for the `code` of thrown errors; others get "E<n>". */
static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    default: return NULL;
  }
}

napi_value zmpi_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  const char *name = errno_name(err);
  if (!name) {
    snprintf(code, sizeof code, "E%d", err);
    name = code;
  }
  napi_throw_error(env, name, msg);
  return NULL;
}

static int view_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    napi_throw_type_error(env, NULL, "expected a typed array");
    return 0;
  }
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) {
    napi_throw_error(env, NULL, "cannot read typed array");
    return 0;
  }
  size_t el = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: el = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
    default: el = 1;
  }
  *data = (uint8_t *)ptr;
  *len = length * el;
  return 1;
}

int zmpi_get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < n) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/*
 * setPtracer(pid): under Yama ptrace_scope = 1, lets process `pid` and its descendants read this
 * one (process_vm_readv needs ptrace access). 0 withdraws it. Never PR_SET_PTRACER_ANY: that would
 * let every process of the user attach. Returns true when set, or when there is no Yama (EINVAL:
 * the kernel's ordinary same-user rule applies).
 */
static napi_value set_ptracer(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!zmpi_get_args(env, info, 1, argv, "setPtracer(pid)")) return NULL;
  int32_t pid;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid < 0) {
    napi_throw_type_error(env, NULL, "setPtracer(pid): pid must be a non-negative integer");
    return NULL;
  }
  int rc = prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0);
  napi_value out;
  napi_get_boolean(env, rc == 0 || errno == EINVAL, &out);
  return out;
}

/* addressOf(view): the address of the view's first byte, as a double (user addresses fit in 2^53). */
static napi_value address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!zmpi_get_args(env, info, 1, argv, "addressOf(view)")) return NULL;
  uint8_t *data; size_t len;
  if (!view_of(env, argv[0], &data, &len)) return NULL;
  napi_value out;
  napi_create_double(env, (double)(uintptr_t)data, &out);
  return out;
}

/* read(pid, address, dest): fills all of `dest` from `address` in process `pid`; throws on any failure. */
static napi_value read_remote(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!zmpi_get_args(env, info, 3, argv, "read(pid, address, dest)")) return NULL;
  int32_t pid;
  double addr;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok || napi_get_value_double(env, argv[1], &addr) != napi_ok) {
    napi_throw_type_error(env, NULL, "read(pid, address, dest): pid and address must be numbers");
    return NULL;
  }
  uint8_t *data; size_t len;
  if (!view_of(env, argv[2], &data, &len)) return NULL;
  uintptr_t remote = (uintptr_t)addr;
  size_t done = 0;
  while (done < len) {
    struct iovec local = { data + done, len - done };
    struct iovec far = { (void *)(remote + done), len - done };
    ssize_t got = process_vm_readv((pid_t)pid, &local, 1, &far, 1, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return zmpi_throw_errno(env, "process_vm_readv", errno);
    }
    if (got == 0) return zmpi_throw_errno(env, "process_vm_readv (no progress)", EFAULT);
    done += (size_t)got;
  }
  napi_value out;
  napi_create_double(env, (double)done, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "setPtracer", NULL, set_ptracer, NULL, NULL, NULL, napi_default, NULL },
    { "addressOf", NULL, address_of, NULL, NULL, NULL, napi_default, NULL },
    { "read", NULL, read_remote, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (zmpi_shm_register(env, exports) != napi_ok) return NULL;
  if (zmpi_socket_register(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

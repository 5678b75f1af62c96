/*
 * What the addon's C files share: the one way an errno becomes a JavaScript error (with a `code`
 * such as "EPERM"), argument reading, and the registration hook of the shared-memory part
 * (zmpi_shm.c), which zmpi_native.c's init calls so the addon stays one module.
 */
#ifndef ZMPI_NATIVE_H
#define ZMPI_NATIVE_H

#include <stddef.h>
#include <node_api.h>

/* Throws an Error "what: strerror(err)" whose code is the errno's name ("EPERM"), else "E<n>". Returns NULL. */
napi_value zmpi_throw_errno(napi_env env, const char *what, int err);

/* Reads exactly `n` arguments into argv; throws a TypeError naming `usage` if fewer came. */
int zmpi_get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage);

/* Adds shmCreate, shmAttach, shmRelease and closeFd to `exports`. */
napi_status zmpi_shm_register(napi_env env, napi_value exports);

/* Adds recvNow (zmpi_socket.c) to `exports`. */
napi_status zmpi_socket_register(napi_env env, napi_value exports);

#endif

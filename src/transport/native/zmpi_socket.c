/*
 * What a polling receive needs from the kernel (tcp-poll.ts, shm-channel.ts, poll-budget.ts).
 *
 * Reading a connected socket without waiting, for a receive that polls its TCP connections from
 * other nodes for a moment instead of sleeping in the event loop at once: a rank that sleeps must
 * be woken by the sender's write (on a virtual machine, a cross-CPU interrupt), and that wake-up
 * is most of a small message's time (measured in C over loopback, 8 B ping-pong half round trip:
 * 14-16 µs sleeping in recv, 7 µs polling). The socket stays libuv's: this only takes what has
 * already arrived, at a moment libuv is not reading (the caller's turn).
 *
 * Giving up the CPU while polling: the scheduler may put the partner that must answer on the
 * polling rank's own core (a woken task goes where its waker runs), and a poll that never yields
 * then holds the answer back for its whole budget.
 */
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "zmpi_native.h"

/*
 * recvNow(fd, buffer): reads what has arrived on `fd` into `buffer` without waiting. Returns the
 * bytes read, 0 when nothing has arrived, -1 at the end of the stream or an error (which stay for
 * libuv's own read to find: the caller stops polling that socket).
 */
static napi_value recv_now(napi_env env, napi_callback_info info) {
  static const char usage[] = "recvNow(fd, buffer): fd must be a whole number >= 0 and buffer a Uint8Array";
  napi_value argv[2];
  if (!zmpi_get_args(env, info, 2, argv, usage)) return NULL;
  int32_t fd;
  bool typed;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_is_typedarray(env, argv[1], &typed) != napi_ok || !typed) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  ssize_t n;
  do n = recv(fd, data, length, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  double out = n > 0 ? (double)n : n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
  napi_value result;
  napi_create_double(env, out, &result);
  return result;
}

/* yieldCpu(): lets another task waiting for this core run now (sched_yield); nothing otherwise. */
static napi_value yield_cpu(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sched_yield();
  return NULL;
}

napi_status zmpi_socket_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "recvNow", NULL, recv_now, NULL, NULL, NULL, napi_default, NULL },
    { "yieldCpu", NULL, yield_cpu, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

/*
 * Shared-memory segments for the same-machine channel (issue 15): the memory of the per-pair rings,
 * created, shared and mapped here and handed to JavaScript as ArrayBuffers. Nothing else: the
 * rings, their ordering (Atomics) and the decision who may attach live in TypeScript.
 *
 * Why memfd + pidfd_getfd, not shm_open or a file: a memfd has no name in any filesystem, so a
 * crash leaves nothing stale (the kernel frees it when the last mapping or descriptor goes), and a
 * peer gets it only with pidfd_getfd, which needs ptrace-attach permission on the owner: the same
 * kernel rule as the cross-memory-attach single copy (zmpi_native.c), so the shm channel admits no
 * process that single copy would not. The owner sets the memfd's mode to 0 so that reopening it
 * through /proc/<pid>/fd/<n> (which needs only ptrace *read* permission) is refused even to the
 * same user; pidfd_getfd duplicates the open file description and does not consult the mode. The
 * owner seals the size (shrink, grow, and the seals themselves) so no peer can shrink the file
 * under a mapping, which would turn a ring read into SIGBUS; an attacher refuses unsealed files.
 *
 * Each mapping is recorded (address, length) so shmRelease unmaps only memory this file mapped,
 * and exactly once: either shmRelease (which detaches the ArrayBuffer first) or the ArrayBuffer's
 * finalizer (garbage collection, environment teardown) unmaps, never both. In Node 20 the
 * finalizer of an external ArrayBuffer runs later, from a SetImmediate, even after a detach.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include "zmpi_native.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
/* Linux 6.3+: no exec bit, ever (and no kernel log warning); older kernels say EINVAL, then we go without. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif
/* The generic syscall table numbers them alike on x86_64 and aarch64 (Linux 5.3 and 5.6). */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* ArrayBuffers are limited to 2^53 - 1 bytes; a segment is far smaller. 2^40 (1 TiB) catches nonsense. */
#define MAX_SEGMENT_BYTES ((double)(1ULL << 40))

/* One live mapping. Freed by the ArrayBuffer's finalizer; unmapped by whichever comes first of it and shmRelease. */
struct mapping {
  void *addr;
  size_t len;
  int released; /* shmRelease unmapped it and took it off the list */
  struct mapping *next;
};

/* Live mappings of every environment (main thread and workers), guarded by `live_lock`. */
static struct mapping *live = NULL;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void unlink_locked(struct mapping *m) {
  for (struct mapping **p = &live; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      return;
    }
  }
}

static void link_mapping(struct mapping *m) {
  pthread_mutex_lock(&live_lock);
  m->next = live;
  live = m;
  pthread_mutex_unlock(&live_lock);
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  pthread_mutex_lock(&live_lock);
  int unmap = !m->released;
  if (unmap) unlink_locked(m);
  pthread_mutex_unlock(&live_lock);
  if (unmap) munmap(m->addr, m->len); /* cannot fail for a range we mapped; nobody to tell in a finalizer */
  free(m);
}

/* Maps `fd` shared, read-write, and wraps the mapping in an external ArrayBuffer. NULL (thrown) on failure. */
static napi_value map_segment(napi_env env, int fd, size_t bytes) {
  void *addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return zmpi_throw_errno(env, "mmap", errno);
  struct mapping *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(addr, bytes);
    return zmpi_throw_errno(env, "mapping record", ENOMEM);
  }
  m->addr = addr;
  m->len = bytes;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, bytes, finalize_mapping, m, &ab) != napi_ok) {
    munmap(addr, bytes);
    free(m);
    napi_throw_error(env, NULL, "cannot wrap the mapping in an ArrayBuffer (external buffers not allowed here?)");
    return NULL;
  }
  link_mapping(m);
  return ab;
}

/* A whole number of bytes in [1, 2^40]; throws a TypeError naming `usage` otherwise. */
static int get_bytes(napi_env env, napi_value v, const char *usage, size_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 1 && d <= MAX_SEGMENT_BYTES) || d != (double)(uint64_t)d) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  *out = (size_t)d;
  return 1;
}

static int get_int(napi_env env, napi_value v, int32_t min, const char *usage, int32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= min && d <= INT32_MAX) || d != (double)(int32_t)d) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  *out = (int32_t)d;
  return 1;
}

/* A sealable memfd, trying MFD_NOEXEC_SEAL first. -1 with errno on failure. */
static int new_memfd(void) {
  int fd = (int)syscall(SYS_memfd_create, "zmpi-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, "zmpi-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return fd;
}

/* Closes `fd` keeping errno (the error being reported is the earlier one). */
static void close_keep_errno(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

/*
 * shmCreate(bytes) -> { fd, buffer }: a new sealed, mode-0 memfd of exactly `bytes`, mapped. The fd
 * stays open: peers fetch it from this process with pidfd_getfd; closeFd(fd) at shutdown.
 */
static napi_value shm_create(napi_env env, napi_callback_info info) {
  static const char usage[] = "shmCreate(bytes): bytes must be a whole number from 1 to 2^40";
  napi_value argv[1];
  if (!zmpi_get_args(env, info, 1, argv, usage)) return NULL;
  size_t bytes;
  if (!get_bytes(env, argv[0], usage, &bytes)) return NULL;
  int fd = new_memfd();
  if (fd < 0) return zmpi_throw_errno(env, "memfd_create", errno);
  const char *step = NULL;
  if (ftruncate(fd, (off_t)bytes) != 0) step = "ftruncate";
  else if (fchmod(fd, 0) != 0) step = "fchmod";
  else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) step = "fcntl(F_ADD_SEALS)";
  if (step) {
    close_keep_errno(fd);
    return zmpi_throw_errno(env, step, errno);
  }
  napi_value buffer = map_segment(env, fd, bytes);
  if (!buffer) {
    close(fd);
    return NULL;
  }
  napi_value out, fd_value;
  if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, fd, &fd_value) != napi_ok ||
      napi_set_named_property(env, out, "fd", fd_value) != napi_ok || napi_set_named_property(env, out, "buffer", buffer) != napi_ok) {
    /* The buffer's finalizer unmaps; the fd is ours to close. */
    close(fd);
    napi_throw_error(env, NULL, "shmCreate: cannot build the result");
    return NULL;
  }
  return out;
}

/*
 * shmAttach(pid, fd, bytes) -> ArrayBuffer: maps process `pid`'s segment `fd`, which must be a
 * sealed file of exactly `bytes`. Needs ptrace-attach permission on `pid` (pidfd_getfd).
 */
static napi_value shm_attach(napi_env env, napi_callback_info info) {
  static const char usage[] = "shmAttach(pid, fd, bytes): pid > 0, fd >= 0, bytes a whole number from 1 to 2^40";
  napi_value argv[3];
  if (!zmpi_get_args(env, info, 3, argv, usage)) return NULL;
  int32_t pid, remote_fd;
  size_t bytes;
  if (!get_int(env, argv[0], 1, usage, &pid) || !get_int(env, argv[1], 0, usage, &remote_fd) || !get_bytes(env, argv[2], usage, &bytes)) return NULL;
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) return zmpi_throw_errno(env, "pidfd_open", errno);
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, remote_fd, 0);
  if (fd < 0) {
    close_keep_errno(pidfd);
    return zmpi_throw_errno(env, "pidfd_getfd", errno);
  }
  close(pidfd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close_keep_errno(fd);
    return zmpi_throw_errno(env, "fstat", errno);
  }
  char msg[160];
  int seals = S_ISREG(st.st_mode) ? fcntl(fd, F_GET_SEALS) : -1;
  int need = F_SEAL_SHRINK | F_SEAL_GROW;
  if (!S_ISREG(st.st_mode)) snprintf(msg, sizeof msg, "fd %d is not a shared-memory segment (not a regular file)", (int)remote_fd);
  /* EINVAL: a file that cannot be sealed at all (not a memfd); else its seals are missing. Sealed first: a size means nothing without. */
  else if (seals < 0 || (seals & need) != need) snprintf(msg, sizeof msg, "the segment is not sealed (%s)", seals < 0 ? "not a sealable file" : "its size could change under the mapping");
  else if ((uint64_t)st.st_size != (uint64_t)bytes) snprintf(msg, sizeof msg, "the segment is %lld bytes, expected %zu", (long long)st.st_size, bytes);
  else msg[0] = 0;
  if (msg[0]) {
    close(fd);
    napi_throw_error(env, "EINVAL", msg);
    return NULL;
  }
  napi_value buffer = map_segment(env, fd, bytes);
  close(fd); /* the mapping keeps the file */
  return buffer;
}

/*
 * shmRelease(buffer): unmaps now a buffer from shmCreate or shmAttach and detaches it (byteLength
 * 0, every view empty). Releasing a detached buffer again does nothing; any other buffer is refused.
 */
static napi_value shm_release(napi_env env, napi_callback_info info) {
  static const char usage[] = "shmRelease(buffer): buffer must be an ArrayBuffer from shmCreate or shmAttach";
  napi_value argv[1];
  if (!zmpi_get_args(env, info, 1, argv, usage)) return NULL;
  bool is_ab = false, detached = false;
  if (napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (napi_is_detached_arraybuffer(env, argv[0], &detached) != napi_ok) {
    napi_throw_error(env, NULL, "shmRelease: cannot inspect the buffer");
    return NULL;
  }
  if (detached) return NULL; /* released before (or transferred): nothing mapped behind it */
  void *data;
  size_t len;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_error(env, NULL, "shmRelease: cannot read the buffer");
    return NULL;
  }
  pthread_mutex_lock(&live_lock);
  struct mapping *m = live;
  while (m && !(m->addr == data && m->len == len)) m = m->next;
  if (m) {
    unlink_locked(m);
    m->released = 1;
  }
  pthread_mutex_unlock(&live_lock);
  if (!m) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  /* Detach before unmapping, so no view can touch the range; the finalizer may run (and free m) at any point after. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    m->released = 0;
    link_mapping(m);
    napi_throw_error(env, NULL, "shmRelease: the buffer cannot be detached; it stays mapped");
    return NULL;
  }
  if (munmap(data, len) != 0) return zmpi_throw_errno(env, "munmap", errno);
  return NULL;
}

/* closeFd(fd): closes a segment's memfd (the owner, at shutdown). Mappings stay valid. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  static const char usage[] = "closeFd(fd): fd must be a whole number >= 0";
  napi_value argv[1];
  if (!zmpi_get_args(env, info, 1, argv, usage)) return NULL;
  int32_t fd;
  if (!get_int(env, argv[0], 0, usage, &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) return zmpi_throw_errno(env, "close", errno); /* EINTR: Linux has closed it */
  return NULL;
}

napi_status zmpi_shm_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "shmCreate", NULL, shm_create, NULL, NULL, NULL, napi_default, NULL },
    { "shmAttach", NULL, shm_attach, NULL, NULL, NULL, napi_default, NULL },
    { "shmRelease", NULL, shm_release, NULL, NULL, NULL, napi_default, NULL },
    { "closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL },
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

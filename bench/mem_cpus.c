/* `make bench-mem` with BENCH_MEM_CPUS: loaded into Envoy with LD_PRELOAD, makes sysconf report
 * BENCH_MEM_SHIM_CPUS online processors. V8 sizes its worker pool (the threads that compile a
 * wasm module) from that number, and glibc reads it from /sys, not from the CPU affinity or a
 * container's CPU limit: a sidecar on a 32-CPU node gets 31 compile threads whatever its limit.
 * This shows on a small machine what such a node costs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

long sysconf(int name) {
  static long (*next)(int);
  if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) {
    const char *cpus = getenv("BENCH_MEM_SHIM_CPUS");
    if (cpus != NULL && atol(cpus) > 0) {
      return atol(cpus);
    }
  }
  if (next == NULL) {
    next = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
  }
  return next(name);
}

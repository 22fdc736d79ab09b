/* Counts calls to malloc, for bench/allocations.py (loaded with LD_PRELOAD; Linux only). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static atomic_long calls = 0;
static void *(*real_malloc)(size_t) = 0;

void *malloc(size_t size) {
  if (!real_malloc) real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  atomic_fetch_add(&calls, 1);
  return real_malloc(size);
}

long fnn_malloc_calls(void) { return atomic_load(&calls); }

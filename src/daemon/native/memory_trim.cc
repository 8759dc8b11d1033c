/*
 * Two functions for Node, to give memory back once the daemon is idle after a
 * load (src/daemon/heap-trim.ts):
 *
 * - v8(level) asks V8 for a memory-reducing collection, one that also
 *   shrinks the young generation back and releases pooled pages: level 0
 *   incremental (MemoryPressureNotification, moderate: steps on the event
 *   loop), 1 one blocking full collection (critical), 2 LowMemoryNotification
 *   (several blocking ones). gc() from --expose-gc does not shrink the young
 *   generation unless V8's own estimate of the allocation rate is low at that
 *   moment, which after a load it often is not (16 MB of young generation
 *   then stayed in RSS).
 * - malloc() hands the C heap's free pages back to the kernel (glibc's
 *   malloc_trim(0)): Node keeps socket read buffers and Buffers there, and
 *   glibc by itself returns only the top of its heap. Elsewhere than glibc it
 *   does nothing and returns false.
 *
 * C++ for the V8 call; the module itself is registered through N-API.
 */
#include <node_api.h>
#include <v8.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value v8_trim(napi_env env, napi_callback_info info) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) {
    size_t argc = 1;
    napi_value argv[1];
    int32_t level = 0;
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc >= 1) napi_get_value_int32(env, argv[0], &level);
    if (level >= 2) isolate->LowMemoryNotification();
    else isolate->MemoryPressureNotification(level == 1 ? v8::MemoryPressureLevel::kCritical : v8::MemoryPressureLevel::kModerate);
  }
  napi_value out;
  napi_get_boolean(env, isolate != nullptr, &out);
  return out;
}

static napi_value malloc_trim_all(napi_env env, napi_callback_info) {
  bool released = false;
#if defined(__GLIBC__)
  released = malloc_trim(0) == 1;
#endif
  napi_value out;
  napi_get_boolean(env, released, &out);
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "v8", NAPI_AUTO_LENGTH, v8_trim, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "v8", fn) != napi_ok) return nullptr;
  if (napi_create_function(env, "malloc", NAPI_AUTO_LENGTH, malloc_trim_all, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "malloc", fn) != napi_ok) return nullptr;
  return exports;
}

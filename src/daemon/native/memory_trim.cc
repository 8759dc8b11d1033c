/*
 * Two functions for Node, to give memory back once the daemon is idle after a
 * load (src/daemon/heap-trim.ts):
 *
 * - v8() asks V8 for its memory-reducing collection (Isolate::
 *   LowMemoryNotification: full collections that also shrink the young
 *   generation back and release pooled pages). gc() from --expose-gc does not
 *   shrink the young generation unless V8's own estimate of the allocation
 *   rate is low at that moment, which after a load it often is not: 16 MB
 *   of young generation then stayed in RSS.
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

static napi_value v8_trim(napi_env env, napi_callback_info) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
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

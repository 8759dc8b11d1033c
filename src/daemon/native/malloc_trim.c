/*
 * One function for Node: trim() hands the C heap's free pages back to the
 * kernel (glibc's malloc_trim(0)) and says whether it could. Node keeps socket
 * read buffers, Buffers and its own structures on the C heap; after a load
 * they are freed, but glibc keeps the freed pages mapped (only the top of the
 * heap is returned by itself), so the daemon's RSS stayed megabytes above idle.
 * Elsewhere than glibc (musl...) it does nothing and returns false.
 */
#include <node_api.h>
#include <stdbool.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
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
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}

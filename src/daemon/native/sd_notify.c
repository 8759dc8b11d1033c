/*
 * One function for Node: send(path, message) sends one datagram on a Unix
 * socket. Node has no Unix datagram sockets, and systemd's notification socket
 * ($NOTIFY_SOCKET) is one. Sending from the daemon's own process matters:
 * with NotifyAccess=main systemd only accepts messages whose kernel-attached
 * credentials carry the main PID, so a helper process cannot do it.
 *
 * A path starting with '@' names a socket in the abstract namespace.
 */
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MESSAGE 4096

static napi_value fail(napi_env env, const char *what, int err) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, buf);
  return NULL;
}

static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "send(path, message) takes two strings");
    return NULL;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char path[sizeof sa.sun_path + 1];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok) {
    napi_throw_type_error(env, NULL, "path must be a string");
    return NULL;
  }
  if (plen == 0 || plen >= sizeof sa.sun_path) {
    napi_throw_range_error(env, NULL, "socket path is empty or too long");
    return NULL;
  }
  memcpy(sa.sun_path, path, plen);
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  if (path[0] == '@') sa.sun_path[0] = '\0';
  else alen += 1;

  size_t mlen = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &mlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "message must be a string");
    return NULL;
  }
  if (mlen > MAX_MESSAGE) {
    napi_throw_range_error(env, NULL, "message too long");
    return NULL;
  }
  char *msg = malloc(mlen + 1);
  if (!msg) return fail(env, "malloc", ENOMEM);
  napi_get_value_string_utf8(env, argv[1], msg, mlen + 1, &mlen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    free(msg);
    return fail(env, "socket", e);
  }
  ssize_t n = sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
  int e = errno;
  close(fd);
  free(msg);
  if (n < 0) return fail(env, "sendto", e);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, send_datagram, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  return exports;
}

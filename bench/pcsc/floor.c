/*
 * The floor under any pcscd-compatible daemon's per-call speed: one request /
 * reply exchange on a Unix stream socket with no work in between, the shape of
 * every libpcsclite call (the client writes one message and blocks until the
 * answer is in).
 *
 *   floor serve PATH REPLY_BYTES
 *       a server as pcscd serves a client: a thread per connection, a blocking
 *       read of the request, a write of a fixed reply (no parsing, no state)
 *   floor ping PATH N REQUEST_BYTES REPLY_BYTES
 *       the client: N exchanges after 200 warm-up ones; prints one JSON line
 *       {"count","seconds","per_s","p50_us","p99_us"}
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int reply_bytes;

static int read_full(int fd, char *buf, int n) {
	for (int got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0) return -1;
		got += r;
	}
	return 0;
}

static void *serve_one(void *arg) {
	int fd = (int)(long)arg;
	char req[65536], *rep = calloc(1, reply_bytes);
	for (;;) {
		/* The request's size is its first 4 bytes (as pcsc-lite's header), the rest follows. */
		uint32_t size;
		if (read_full(fd, (char *)&size, 4) < 0 || size > sizeof req || read_full(fd, req, size) < 0) break;
		if (write(fd, rep, reply_bytes) != reply_bytes) break;
	}
	close(fd);
	free(rep);
	return NULL;
}

static struct sockaddr_un addr_of(const char *path) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, path, sizeof a.sun_path - 1);
	return a;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc == 4 && !strcmp(argv[1], "serve")) {
		reply_bytes = atoi(argv[3]);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = addr_of(argv[2]);
		unlink(argv[2]);
		if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) return perror("bind"), 1;
		printf("ready\n");
		fflush(stdout);
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0) continue;
			pthread_t t;
			pthread_create(&t, NULL, serve_one, (void *)(long)c);
			pthread_detach(t);
		}
	}
	if (argc == 6 && !strcmp(argv[1], "ping")) {
		int n = atoi(argv[3]), req_bytes = atoi(argv[4]), rep_bytes = atoi(argv[5]);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = addr_of(argv[2]);
		if (connect(s, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
		char *req = calloc(1, req_bytes), *rep = malloc(rep_bytes);
		uint32_t body = req_bytes - 4;
		memcpy(req, &body, 4);
		double *lat = malloc(sizeof(double) * n), t0 = 0;
		for (int i = -200; i < n; i++) {
			if (i == 0) t0 = now();
			double s0 = now();
			if (write(s, req, req_bytes) != req_bytes || read_full(s, rep, rep_bytes) < 0) return fprintf(stderr, "exchange %d failed\n", i), 1;
			if (i >= 0) lat[i] = (now() - s0) * 1e6;
		}
		double secs = now() - t0;
		qsort(lat, n, sizeof *lat, cmp);
		printf("{\"count\":%d,\"seconds\":%.4f,\"per_s\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f}\n", n, secs, n / secs, lat[n / 2], lat[n * 99 / 100]);
		return 0;
	}
	fprintf(stderr, "usage: floor serve PATH REPLY_BYTES | floor ping PATH N REQUEST_BYTES REPLY_BYTES\n");
	return 2;
}

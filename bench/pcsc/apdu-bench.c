/*
 * apdu-bench: the libpcsclite client of bench/pcsc, run unchanged against
 * pcscd and against scardgate (PCSCLITE_CSOCK_NAME picks the daemon).
 *
 *   apdu-bench transmit READER N APDUHEX CLIENTS
 *       CLIENTS processes (own context each) connect SHARED to READER, then
 *       together send N APDUs in total; one JSON line: count, seconds,
 *       apdu_per_s, p50_us, p99_us (over all exchanges).
 *   apdu-bench insert READER ROUNDS
 *       waits for the card to come (EMPTY -> PRESENT) and go, ROUNDS times;
 *       prints "ready" before each wait and "inserted <CLOCK_MONOTONIC ns>"
 *       when SCardGetStatusChange returns, so the driver of the benchmark
 *       measures card-connect -> return latency on the same clock.
 *   apdu-bench calls KIND READER N
 *       one client, N calls of one kind, each timed: "status" (SCardStatus on
 *       a SHARED handle), "connect" (SCardConnect SHARED + SCardDisconnect
 *       LEAVE), "establish" (SCardEstablishContext + SCardReleaseContext);
 *       one JSON line: count, seconds, calls_per_s, p50_us, p99_us.
 *   apdu-bench card PORT
 *       the fast card (below).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <winscard.h>

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b) {
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, LONG rv) {
	fprintf(stderr, "apdu-bench: %s: %s (0x%08lX)\n", what, pcsc_stringify_error(rv), (unsigned long)rv);
	exit(2);
}

static int child(const char *reader, unsigned char *apdu, int alen, int n, uint32_t *lat, int go_fd, int ready_fd) {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	unsigned char resp[300];
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv) die("SCardEstablishContext", rv);
	rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	if (rv) die("SCardConnect", rv);
	const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	for (int i = 0; i < 50; i++) { /* warm-up */
		DWORD rl = sizeof resp;
		rv = SCardTransmit(h, pci, apdu, alen, NULL, resp, &rl);
		if (rv) die("SCardTransmit (warm-up)", rv);
	}
	char c = 'r';
	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1) exit(3);
	for (int i = 0; i < n; i++) {
		DWORD rl = sizeof resp;
		uint64_t t0 = now_ns();
		rv = SCardTransmit(h, pci, apdu, alen, NULL, resp, &rl);
		lat[i] = (uint32_t)((now_ns() - t0) / 1000);
		if (rv) die("SCardTransmit", rv);
		if (rl < 2) die("short response", 0);
	}
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}

static int bench_transmit(const char *reader, int n, const char *hex, int clients) {
	unsigned char apdu[300];
	int alen = 0;
	for (; hex[0] && hex[1] && alen < (int)sizeof apdu; hex += 2) sscanf(hex, "%2hhx", &apdu[alen++]);
	int per = n / clients;
	n = per * clients;
	uint32_t *lat = mmap(NULL, sizeof(uint32_t) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int go[2], ready[2];
	if (pipe(go) || pipe(ready)) return 3;
	for (int k = 0; k < clients; k++) {
		pid_t p = fork();
		if (p == 0) {
			close(go[1]);
			close(ready[0]);
			exit(child(reader, apdu, alen, per, lat + k * per, go[0], ready[1]));
		}
	}
	close(go[0]);
	close(ready[1]);
	char c;
	for (int k = 0; k < clients; k++)
		if (read(ready[0], &c, 1) != 1) { fprintf(stderr, "apdu-bench: a client failed to start\n"); return 2; }
	uint64_t t0 = now_ns();
	for (int k = 0; k < clients; k++) if (write(go[1], "g", 1) != 1) return 3;
	int failed = 0, st;
	for (int k = 0; k < clients; k++) {
		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) failed = 1;
	}
	double secs = (now_ns() - t0) / 1e9;
	if (failed) return 2;
	qsort(lat, n, sizeof *lat, cmp_u32);
	printf("{\"count\":%d,\"clients\":%d,\"seconds\":%.4f,\"apdu_per_s\":%.0f,\"p50_us\":%u,\"p99_us\":%u}\n",
		n, clients, secs, n / secs, lat[n / 2], lat[(int)(n * 0.99)]);
	return 0;
}

static int bench_calls(const char *kind, const char *reader, int n) {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	uint32_t *lat = malloc(sizeof(uint32_t) * n);
	int k = !strcmp(kind, "status") ? 0 : !strcmp(kind, "connect") ? 1 : !strcmp(kind, "establish") ? 2 : -1;
	if (k < 0 || !lat) { fprintf(stderr, "apdu-bench: unknown call kind %s\n", kind); return 1; }
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv) die("SCardEstablishContext", rv);
	rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	if (rv) die("SCardConnect", rv);
	uint64_t start = 0;
	for (int i = -50; i < n; i++) { /* 50 warm-up calls */
		if (i == 0) start = now_ns();
		uint64_t t0 = now_ns();
		if (k == 0) {
			char name[200];
			unsigned char atr[40];
			DWORD nl = sizeof name, al = sizeof atr, state, p;
			rv = SCardStatus(h, name, &nl, &state, &p, atr, &al);
			if (rv) die("SCardStatus", rv);
		} else if (k == 1) {
			SCARDHANDLE h2;
			rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h2, &proto);
			if (rv) die("SCardConnect", rv);
			rv = SCardDisconnect(h2, SCARD_LEAVE_CARD);
			if (rv) die("SCardDisconnect", rv);
		} else {
			SCARDCONTEXT c2;
			rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c2);
			if (rv) die("SCardEstablishContext", rv);
			rv = SCardReleaseContext(c2);
			if (rv) die("SCardReleaseContext", rv);
		}
		if (i >= 0) lat[i] = (uint32_t)((now_ns() - t0) / 1000);
	}
	double secs = (now_ns() - start) / 1e9;
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	qsort(lat, n, sizeof *lat, cmp_u32);
	printf("{\"count\":%d,\"clients\":1,\"seconds\":%.4f,\"calls_per_s\":%.0f,\"p50_us\":%u,\"p99_us\":%u}\n",
		n, secs, n / secs, lat[n / 2], lat[(int)(n * 0.99)]);
	return 0;
}

static int bench_insert(const char *reader, int rounds) {
	SCARDCONTEXT ctx;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv) die("SCardEstablishContext", rv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	SCARD_READERSTATE st;
	memset(&st, 0, sizeof st);
	st.szReader = reader;
	st.dwCurrentState = SCARD_STATE_UNAWARE;
	rv = SCardGetStatusChange(ctx, 0, &st, 1);
	if (rv) die("SCardGetStatusChange", rv);
	for (int i = 0; i < rounds; i++) {
		/* wait until empty */
		while (!(st.dwEventState & SCARD_STATE_EMPTY)) {
			st.dwCurrentState = st.dwEventState;
			rv = SCardGetStatusChange(ctx, INFINITE, &st, 1);
			if (rv) die("SCardGetStatusChange (removal)", rv);
		}
		printf("ready\n");
		while (!(st.dwEventState & SCARD_STATE_PRESENT)) {
			st.dwCurrentState = st.dwEventState;
			rv = SCardGetStatusChange(ctx, INFINITE, &st, 1);
			if (rv) die("SCardGetStatusChange (insertion)", rv);
		}
		printf("inserted %llu\n", (unsigned long long)now_ns());
	}
	SCardReleaseContext(ctx);
	return 0;
}

/*
 * card PORT: a vicc-side card in C that answers at once: connects to vpcd on
 * 127.0.0.1:PORT, answers GET ATR with a T=1 ATR and every APDU with 90 00.
 * TCP_QUICKACK after each read so pcscd's vpcd (which writes the length and the
 * payload separately, Nagle on) is not held up by delayed ACKs either.
 * Exits when vpcd closes the connection or on SIGTERM.
 */
static int card(int port) {
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("connecting %llu\n", (unsigned long long)now_ns()); /* the insertion instant, on the clients' clock */
	if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("card: connect"); return 2; }
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	static const unsigned char atr[] = {0x00, 0x05, 0x3B, 0x80, 0x80, 0x01, 0x01}, ok[] = {0x00, 0x02, 0x90, 0x00};
	static unsigned char buf[70000];
	size_t have = 0;
	printf("connected\n");
	for (;;) {
		ssize_t r = read(s, buf + have, sizeof buf - have);
		if (r <= 0) return 0;
		setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		have += r;
		size_t off = 0;
		while (have - off >= 2) {
			size_t len = (buf[off] << 8) | buf[off + 1];
			if (have - off < 2 + len) break;
			if (len == 1 && buf[off + 2] == 0x04) { if (write(s, atr, sizeof atr) < 0) return 0; }
			else if (len != 1) { if (write(s, ok, sizeof ok) < 0) return 0; }
			off += 2 + len;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
}

int main(int argc, char **argv) {
	if (argc >= 3 && !strcmp(argv[1], "card")) return card(atoi(argv[2]));
	if (argc >= 6 && !strcmp(argv[1], "transmit")) return bench_transmit(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
	if (argc >= 5 && !strcmp(argv[1], "calls")) return bench_calls(argv[2], argv[3], atoi(argv[4]));
	if (argc >= 4 && !strcmp(argv[1], "insert")) return bench_insert(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: apdu-bench transmit READER N APDUHEX CLIENTS | calls status|connect|establish READER N | insert READER ROUNDS\n");
	return 1;
}

/*
 * pcsc-calls: a line-driven PC/SC client linked against Debian's libpcsclite,
 * for the pcsc socket's acceptance and differential tests. It reads one
 * command per line on stdin and prints one result line per command, so the
 * same script runs unchanged against pcscd and against scardgate.
 *
 *   ctx N                      establish context N (scope SYSTEM) and make it current
 *   release N                  SCardReleaseContext(N)
 *   list                       SCardListReaders on the current context
 *   connect H READER SHARE PROTOS          (READER: #i = i-th listed reader)
 *   reconnect H SHARE PROTOS INIT
 *   disconnect H DISP
 *   begin H / end H DISP
 *   transmit H HEX [RECVLEN] [PCI]         PCI: t0 t1 raw any(=active) null
 *   control H CODE HEX RECVLEN
 *   status H [NAMELEN] [ATRLEN]
 *   getattrib H ATTR BUFLEN                BUFLEN 0 = length query (NULL buffer)
 *   setattrib H ATTR HEX
 *   gsc READER CURRENT TIMEOUTMS           READER may be "pnp"
 *   gsc-cancel READER CURRENT DELAYMS      wait INFINITE in a thread, SCardCancel after DELAYMS
 *   gsc-bg READER CURRENT TIMEOUTMS / gsc-join   start a wait in a thread, collect it later
 *   sleep MS, echo TEXT
 * Numbers accept 0x prefixes. Handles are small names (H = 1..15).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winscard.h>
#include <reader.h>

#define MAXH 16
static SCARDCONTEXT ctxs[MAXH];
static int cur = -1;
static SCARDHANDLE hs[MAXH];
static DWORD protos[MAXH];
static char readers[4096];
static char *rnames[64];
static int nreaders;

static unsigned long num(const char *s) { return s ? strtoul(s, NULL, 0) : 0; }

static int hex2bin(const char *h, unsigned char *out, int max) {
	int n = 0;
	if (!h || !strcmp(h, "-")) return 0;
	while (h[0] && h[1] && n < max) {
		unsigned int v;
		if (sscanf(h, "%2x", &v) != 1) break;
		out[n++] = (unsigned char)v;
		h += 2;
	}
	return n;
}

static void phex(const unsigned char *b, unsigned long n) {
	for (unsigned long i = 0; i < n; i++) printf("%02X", b[i]);
}

static void rv_line(const char *cmd, LONG rv) { printf("%s rv=0x%08lX", cmd, (unsigned long)rv); }

static void list_readers(int quiet) {
	DWORD len = sizeof readers;
	LONG rv = SCardListReaders(ctxs[cur], NULL, readers, &len);
	nreaders = 0;
	if (rv == SCARD_S_SUCCESS)
		for (char *p = readers; *p && nreaders < 64; p += strlen(p) + 1) rnames[nreaders++] = p;
	if (quiet) return;
	rv_line("list", rv);
	for (int i = 0; i < nreaders; i++) printf(" [%s]", rnames[i]);
	printf("\n");
}

static const char *reader_arg(const char *a) {
	if (a[0] == '#') {
		int i = atoi(a + 1);
		list_readers(1);
		return i < nreaders ? rnames[i] : "no-such-reader";
	}
	if (!strcmp(a, "pnp")) return "\\\\?PnP?\\Notification";
	return a;
}

struct gsc_job {
	SCARDCONTEXT ctx;
	char reader[256];
	DWORD current, timeout;
	LONG rv;
	SCARD_READERSTATE st;
	pthread_t th;
	int running;
};
static struct gsc_job bg;

static void *gsc_thread(void *p) {
	struct gsc_job *j = p;
	memset(&j->st, 0, sizeof j->st);
	j->st.szReader = j->reader;
	j->st.dwCurrentState = j->current;
	j->rv = SCardGetStatusChange(j->ctx, j->timeout, &j->st, 1);
	return NULL;
}

static void gsc_print(const char *cmd, struct gsc_job *j) {
	rv_line(cmd, j->rv);
	printf(" event=0x%08lX atr=", (unsigned long)j->st.dwEventState);
	phex(j->st.rgbAtr, j->st.cbAtr);
	printf("\n");
}

static const SCARD_IO_REQUEST *pci_of(const char *s, int h) {
	if (!s || !strcmp(s, "any")) return protos[h] == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : protos[h] == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_RAW;
	if (!strcmp(s, "t0")) return SCARD_PCI_T0;
	if (!strcmp(s, "t1")) return SCARD_PCI_T1;
	if (!strcmp(s, "raw")) return SCARD_PCI_RAW;
	return NULL;
}

int main(void) {
	char line[70000];
	static unsigned char sbuf[70000], rbuf[70000];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		char *a[8] = {0};
		int n = 0;
		line[strcspn(line, "\r\n")] = 0;
		for (char *t = strtok(line, " "); t && n < 8; t = strtok(NULL, " ")) a[n++] = t;
		if (!n) continue;
		const char *c = a[0];
		int h = a[1] ? atoi(a[1]) % MAXH : 0;
		if (!strcmp(c, "ctx")) {
			LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctxs[h]);
			cur = h;
			rv_line("ctx", rv);
			printf("\n");
		} else if (!strcmp(c, "use")) {
			cur = h;
			printf("use %d\n", h);
		} else if (!strcmp(c, "release")) {
			rv_line("release", SCardReleaseContext(ctxs[h]));
			printf("\n");
		} else if (!strcmp(c, "list")) {
			list_readers(0);
		} else if (!strcmp(c, "connect")) {
			DWORD proto = 0;
			LONG rv = SCardConnect(ctxs[cur], reader_arg(a[2]), num(a[3]), num(a[4]), &hs[h], &proto);
			protos[h] = proto;
			rv_line("connect", rv);
			printf(" proto=%lu\n", (unsigned long)proto);
		} else if (!strcmp(c, "reconnect")) {
			DWORD proto = 0x5A5A; /* shows whether a failed reconnect writes the protocol back, and what */
			LONG rv = SCardReconnect(hs[h], num(a[2]), num(a[3]), num(a[4]), &proto);
			if (rv == SCARD_S_SUCCESS) protos[h] = proto;
			rv_line("reconnect", rv);
			printf(" proto=%lu\n", (unsigned long)proto);
		} else if (!strcmp(c, "disconnect")) {
			rv_line("disconnect", SCardDisconnect(hs[h], num(a[2])));
			printf("\n");
		} else if (!strcmp(c, "begin")) {
			rv_line("begin", SCardBeginTransaction(hs[h]));
			printf("\n");
		} else if (!strcmp(c, "end")) {
			rv_line("end", SCardEndTransaction(hs[h], num(a[2])));
			printf("\n");
		} else if (!strcmp(c, "transmit")) {
			int sl = hex2bin(a[2], sbuf, sizeof sbuf);
			DWORD rl = a[3] ? num(a[3]) : sizeof rbuf;
			SCARD_IO_REQUEST recvPci = {0, sizeof(SCARD_IO_REQUEST)};
			LONG rv = SCardTransmit(hs[h], pci_of(a[4], h), sbuf, sl, &recvPci, rbuf, &rl);
			rv_line("transmit", rv);
			printf(" len=%lu data=", (unsigned long)rl);
			if (rv == SCARD_S_SUCCESS) phex(rbuf, rl);
			printf("\n");
		} else if (!strcmp(c, "control")) {
			int sl = hex2bin(a[3], sbuf, sizeof sbuf);
			DWORD ret = 0;
			LONG rv = SCardControl(hs[h], num(a[2]), sbuf, sl, rbuf, num(a[4]), &ret);
			rv_line("control", rv);
			printf(" len=%lu data=", (unsigned long)ret);
			if (rv == SCARD_S_SUCCESS) phex(rbuf, ret);
			printf("\n");
		} else if (!strcmp(c, "status")) {
			char name[512];
			DWORD nl = a[2] ? num(a[2]) : sizeof name, state = 0, proto = 0, al = a[3] ? num(a[3]) : MAX_ATR_SIZE;
			unsigned char atr[MAX_ATR_SIZE];
			LONG rv = SCardStatus(hs[h], name, &nl, &state, &proto, atr, &al);
			rv_line("status", rv);
			printf(" namelen=%lu state=0x%08lX proto=%lu atrlen=%lu", (unsigned long)nl, (unsigned long)state, (unsigned long)proto, (unsigned long)al);
			if (rv == SCARD_S_SUCCESS) {
				printf(" name=[%s] atr=", name);
				phex(atr, al);
			}
			printf("\n");
		} else if (!strcmp(c, "getattrib")) {
			DWORD len = num(a[3]);
			LONG rv = SCardGetAttrib(hs[h], num(a[2]), len ? rbuf : NULL, &len);
			rv_line("getattrib", rv);
			printf(" len=%lu data=", (unsigned long)len);
			if (rv == SCARD_S_SUCCESS && num(a[3])) phex(rbuf, len);
			printf("\n");
		} else if (!strcmp(c, "setattrib")) {
			int sl = hex2bin(a[3], sbuf, sizeof sbuf);
			rv_line("setattrib", SCardSetAttrib(hs[h], num(a[2]), sbuf, sl));
			printf("\n");
		} else if (!strcmp(c, "gsc") || !strcmp(c, "gsc-bg") || !strcmp(c, "gsc-cancel")) {
			struct gsc_job j;
			struct gsc_job *jp = !strcmp(c, "gsc-bg") ? &bg : &j;
			memset(jp, 0, sizeof *jp);
			jp->ctx = ctxs[cur];
			snprintf(jp->reader, sizeof jp->reader, "%s", reader_arg(a[1]));
			jp->current = num(a[2]);
			jp->timeout = !strcmp(c, "gsc-cancel") ? INFINITE : num(a[3]);
			pthread_create(&jp->th, NULL, gsc_thread, jp);
			if (!strcmp(c, "gsc-bg")) {
				jp->running = 1;
				printf("gsc-bg started\n");
				continue;
			}
			if (!strcmp(c, "gsc-cancel")) {
				usleep(num(a[3]) * 1000);
				LONG crv = SCardCancel(ctxs[cur]);
				pthread_join(jp->th, NULL);
				printf("cancel rv=0x%08lX ", (unsigned long)crv);
			} else
				pthread_join(jp->th, NULL);
			gsc_print("gsc", jp);
		} else if (!strcmp(c, "gsc-join")) {
			if (bg.running) pthread_join(bg.th, NULL);
			bg.running = 0;
			gsc_print("gsc", &bg);
		} else if (!strcmp(c, "cancel")) {
			rv_line("cancel", SCardCancel(ctxs[cur]));
			printf("\n");
		} else if (!strcmp(c, "sleep")) {
			usleep(num(a[1]) * 1000);
			printf("slept\n");
		} else if (!strcmp(c, "echo")) {
			printf("%s\n", a[1] ? a[1] : "");
		} else {
			printf("error unknown command %s\n", c);
		}
	}
	return 0;
}

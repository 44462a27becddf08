/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lab-capi: the lab's small C caller of libqemu-dm, built on the host against
 * libqemu-dm.pc (`pkg-config --cflags --libs libqemu-dm`) and run in dom0.
 * It uses only the public header, as libxl would.
 *
 *   lab-capi QEMU-ARGS...          (as xl.cfg's device_model_override)
 *       libxl execs it with QEMU's argv, the pre-opened QMP listening socket
 *       as fd N (-chardev socket,id=libxl-cmd,fd=N,...) and its log file on
 *       stdout/stderr. It calls qemu_dm_start() with that argv unchanged (no
 *       argument is removed or rewritten), hands fd N over as fd N, and stays
 *       the process libxl tracks until the unit ends; SIGTERM/SIGHUP/SIGINT
 *       stop the unit.
 *   lab-capi cycle DOMID QEMU
 *       plays libxl's part for an existing domain that has no device model
 *       (a paused PV domain): makes the QMP listening socket, starts a PV
 *       device model, talks QMP to it (capabilities, query-status), stops it,
 *       and at once does the same again for the same domid.
 *   lab-capi qmp-greeting PATH
 *       connects to the QMP socket at PATH (following symlinks, as xentop's
 *       libxenstat does) and prints QEMU's greeting line; exit 0 if it is one.
 *
 * Messages go to stderr, prefixed "lab-capi:". Exit 0 on success.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <qemu-dm.h>

#define XEN_QEMU "/usr/libexec/xen-qemu-system-i386"

static volatile sig_atomic_t got_signal;

static void on_signal(int signo)
{
	got_signal = signo;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL); /* a signal ends it early, as wanted */
}

static int unit_running(uint32_t domid)
{
	qemu_dm_status st;
	char *err = NULL;
	int r = qemu_dm_get_status(domid, &st, &err);
	if (r < 0) {
		fprintf(stderr, "lab-capi: qemu_dm_get_status(%u): %s\n", domid, err ? err : strerror(-r));
		qemu_dm_free(err);
		return 0;
	}
	return strcmp(st.active_state, "active") == 0 || strcmp(st.active_state, "activating") == 0 ||
	       strcmp(st.active_state, "reloading") == 0;
}

static int stop_dm(uint32_t domid)
{
	char *err = NULL;
	double t0 = now();
	int r = qemu_dm_stop(domid, 30, &err);
	fprintf(stderr, "lab-capi: qemu_dm_stop(%u) = %d (%s) in %.2f s\n", domid, r, err ? err : "ok", now() - t0);
	qemu_dm_free(err);
	return r;
}

/* "fd=N" inside a -chardev value naming libxl's QMP socket. */
static int libxl_qmp_fd(const char *chardev)
{
	if (!strstr(chardev, "id=libxl-cmd"))
		return -1;
	const char *f = strstr(chardev, ",fd=");
	return f ? atoi(f + 4) : -1;
}

static int run_as_override(int argc, char **argv)
{
	const char **qargv = calloc((size_t)argc + 1, sizeof(char *));
	qemu_dm_options *o = qemu_dm_options_new();
	if (!qargv || !o) {
		fprintf(stderr, "lab-capi: out of memory\n");
		return 1;
	}
	long domid = -1;
	int qmpfd = -1;
	qargv[0] = XEN_QEMU;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *prev = argv[i - 1];
		qargv[i] = a;
		if (strcmp(prev, "-xen-domid") == 0)
			domid = strtol(a, NULL, 10);
		else if (strcmp(prev, "-name") == 0)
			qemu_dm_options_set_name(o, a);
		else if ((strcmp(prev, "-machine") == 0 || strcmp(prev, "-M") == 0) && strncmp(a, "xenpv", 5) == 0)
			qemu_dm_options_set_guest_type(o, QEMU_DM_GUEST_PV);
		else if (strcmp(prev, "-chardev") == 0 && libxl_qmp_fd(a) >= 0)
			qmpfd = libxl_qmp_fd(a);
		else if (strcmp(prev, "-drive") == 0 && strstr(a, "file=")) {
			char *p = strdup(strstr(a, "file=") + 5);
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			qemu_dm_options_add_disk(o, p, 0);
			free(p);
		}
	}
	if (domid < 1 || qmpfd < 3) {
		fprintf(stderr, "lab-capi: no -xen-domid or no libxl QMP socket (fd=N) in the argv\n");
		return 1;
	}
	qemu_dm_options_set_qmp_fd(o, qmpfd, qmpfd);

	char *err = NULL;
	double t0 = now();
	int r = qemu_dm_start((uint32_t)domid, qargv, o, &err);
	fprintf(stderr, "lab-capi: qemu_dm_start(%ld) = %d (%s) in %.2f s\n", domid, r, err ? err : "ok", now() - t0);
	qemu_dm_free(err);
	qemu_dm_options_free(o);
	free(qargv);
	close(qmpfd);
	if (r < 0)
		return 1;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!got_signal && unit_running((uint32_t)domid))
		nap(250);
	if (got_signal) {
		fprintf(stderr, "lab-capi: signal %d: stopping qemu-dm@%ld\n", (int)got_signal, domid);
		return stop_dm((uint32_t)domid) < 0;
	}
	fprintf(stderr, "lab-capi: qemu-dm@%ld ended\n", domid);
	return 0;
}

/* Read until a newline or timeout; returns the length or -1. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	while (n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static int qmp_exchange(int fd, const char *cmd, const char *expect, char *reply, size_t size)
{
	if (cmd && write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	/* Skip asynchronous events until the reply. */
	for (int i = 0; i < 20; i++) {
		if (read_line(fd, reply, size, 30000) < 0)
			return -1;
		if (!strstr(reply, "\"event\""))
			return strstr(reply, expect) ? 0 : -1;
	}
	return -1;
}

static int cycle_once(uint32_t domid, const char *qemu, int round)
{
	char path[108];
	snprintf(path, sizeof(path), "/run/qemu-dm-lab-qmp-%u.sock", domid);
	(void)unlink(path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 1) < 0) {
		fprintf(stderr, "lab-capi: QMP socket %s: %s\n", path, strerror(errno));
		return -1;
	}
	char domstr[16];
	snprintf(domstr, sizeof(domstr), "%u", domid);
	const char *qargv[] = { qemu,	       "-xen-domid",
				domstr,	       "-xen-attach",
				"-name",       "lab-reuse",
				"-nodefaults", "-no-user-config",
				"-display",    "none",
				"-chardev",    "socket,id=libxl-cmd,fd=3,server=on,wait=off",
				"-mon",	       "chardev=libxl-cmd,mode=control",
				"-machine",    "xenpv",
				NULL };
	qemu_dm_options *o = qemu_dm_options_new();
	qemu_dm_options_set_name(o, "lab-reuse");
	qemu_dm_options_set_guest_type(o, QEMU_DM_GUEST_PV);
	qemu_dm_options_set_qmp_fd(o, lfd, 3);
	char *err = NULL;
	double t0 = now();
	int r = qemu_dm_start(domid, qargv, o, &err);
	double tstart = now() - t0;
	fprintf(stderr, "lab-capi: round %d: qemu_dm_start(%u) = %d (%s) in %.2f s\n", round, domid, r,
		err ? err : "ok", tstart);
	qemu_dm_free(err);
	qemu_dm_options_free(o);
	close(lfd);
	if (r < 0) {
		(void)unlink(path);
		return -1;
	}

	int ok = -1;
	char reply[4096];
	int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd >= 0 && connect(cfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    qmp_exchange(cfd, NULL, "\"QMP\"", reply, sizeof(reply)) == 0 &&
	    qmp_exchange(cfd, "{\"execute\":\"qmp_capabilities\"}\n", "\"return\"", reply, sizeof(reply)) == 0 &&
	    qmp_exchange(cfd, "{\"execute\":\"query-status\"}\n", "\"status\"", reply, sizeof(reply)) == 0) {
		reply[strcspn(reply, "\r\n")] = '\0';
		fprintf(stderr, "lab-capi: round %d: QMP query-status: %s\n", round, reply);
		ok = 0;
	} else {
		fprintf(stderr, "lab-capi: round %d: no QMP answer from the device model: %s\n", round,
			strerror(errno));
	}
	if (cfd >= 0)
		close(cfd);
	(void)unlink(path);
	if (stop_dm(domid) < 0)
		ok = -1;
	if (unit_running(domid)) {
		fprintf(stderr, "lab-capi: round %d: qemu-dm@%u still running after stop\n", round, domid);
		ok = -1;
	}
	return ok;
}

/* What libxenstat does first on a domain's QMP socket: connect, read the greeting. */
static int qmp_greeting(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "lab-capi: connect %s: %s\n", path, strerror(errno));
		return 1;
	}
	char reply[512];
	int r = qmp_exchange(fd, NULL, "\"QMP\"", reply, sizeof(reply));
	close(fd);
	printf("%s", r == 0 ? reply : "no QMP greeting\n");
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "qmp-greeting") == 0)
		return qmp_greeting(argv[2]);
	if (argc == 4 && strcmp(argv[1], "cycle") == 0) {
		uint32_t domid = (uint32_t)strtoul(argv[2], NULL, 10);
		int r1 = cycle_once(domid, argv[3], 1);
		int r2 = r1 == 0 ? cycle_once(domid, argv[3], 2) : -1;
		return r1 == 0 && r2 == 0 ? 0 : 1;
	}
	if (argc < 2 || argv[1][0] != '-') {
		fprintf(stderr, "usage: lab-capi QEMU-ARGS... | lab-capi cycle DOMID QEMU | lab-capi qmp-greeting PATH\n");
		return 2;
	}
	return run_as_override(argc, argv);
}

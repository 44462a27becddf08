/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lab-fdcheck PID: run Debian's Xen depriv-fd-checker on the Xen file
 * descriptors of a running device model.
 *
 * depriv-fd-checker wants the descriptors themselves. Upstream takes them with
 * gdb (fishdescriptor); here they are duplicated out of the process with
 * pidfd_open + pidfd_getfd (Linux >= 5.6), made inheritable, and handed to the
 * checker, which execs with them: privcmd, evtchn and gntdev descriptors and
 * the DM's log files under /var/log/xen/ (append-only). The checker prints one
 * "CLASS pass|fail ..." line per descriptor.
 *
 * Exit: the checker's, or 1 when the process has none of those descriptors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define CHECKER "/usr/lib/xen-4.17/bin/depriv-fd-checker"
#define MAX_FDS 64

static const char *classify(const char *target)
{
	if (strcmp(target, "/dev/xen/privcmd") == 0)
		return "privcmd";
	if (strcmp(target, "/dev/xen/evtchn") == 0)
		return "evtchn";
	if (strcmp(target, "/dev/xen/gntdev") == 0)
		return "gntdev";
	if (strncmp(target, "/var/log/xen/", 13) == 0)
		return "appendonly";
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lab-fdcheck PID\n");
		return 2;
	}
	long pid = strtol(argv[1], NULL, 10);
	if (pid <= 0) {
		fprintf(stderr, "lab-fdcheck: '%s' is not a process id\n", argv[1]);
		return 2;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "lab-fdcheck: pidfd_open(%ld): %s\n", pid, strerror(errno));
		return 1;
	}
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "lab-fdcheck: %s: %s\n", dir, strerror(errno));
		return 1;
	}

	/* CHECKER + (class, fd, description) per descriptor + NULL */
	static char *args[1 + 3 * MAX_FDS + 1];
	int n = 0;
	args[n++] = CHECKER;
	struct dirent *e;
	while ((e = readdir(d)) && n + 3 < (int)(sizeof(args) / sizeof(args[0]))) {
		if (e->d_name[0] == '.')
			continue;
		char link[PATH_MAX], path[PATH_MAX + 80];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		const char *cls = classify(link);
		if (!cls)
			continue;
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd < 0) {
			fprintf(stderr, "lab-fdcheck: pidfd_getfd(%ld, %s): %s\n", pid, e->d_name, strerror(errno));
			return 1;
		}
		/* pidfd_getfd sets FD_CLOEXEC; the checker must inherit it. */
		if (fcntl(fd, F_SETFD, 0) < 0) {
			fprintf(stderr, "lab-fdcheck: fcntl: %s\n", strerror(errno));
			return 1;
		}
		char num[16], desc[PATH_MAX + 600];
		snprintf(num, sizeof(num), "%d", fd);
		snprintf(desc, sizeof(desc), "pid%ld:fd%s:%s", pid, e->d_name, link);
		args[n++] = strdup(cls);
		args[n++] = strdup(num);
		args[n++] = strdup(desc);
	}
	closedir(d);
	if (n == 1) {
		fprintf(stderr, "lab-fdcheck: process %ld has no Xen descriptors or Xen log files open\n", pid);
		return 1;
	}
	args[n] = NULL;
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "+ ", args[i]);
	printf("\n");
	fflush(stdout);
	execv(CHECKER, args);
	fprintf(stderr, "lab-fdcheck: exec %s: %s\n", CHECKER, strerror(errno));
	return 1;
}

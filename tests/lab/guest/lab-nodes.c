/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lab-nodes: what a process can do with the Xen device nodes, for the
 * never-root revocation checks of the lab scenario.
 *
 *   lab-nodes open [--cgroup DIR] [--uid UID] NODE...
 *       as root, first move this process into the cgroup DIR (its
 *       cgroup.procs), then drop to UID (gid UID, no supplementary groups),
 *       then open each NODE O_RDWR and print "NODE OPENED" or "NODE ERRNO".
 *   lab-nodes acl NODE...
 *       print "NODE u:ID ..." for each named-user entry of NODE's access ACL
 *       (system.posix_acl_access, read without libacl), "NODE none" if it has
 *       none.
 *
 * Exit: 0 when every step ran (whatever the opens returned), 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The kernel's ACL xattr layout: a version header, then (tag, perm, id) entries. */
#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER 0x02

static int join_cgroup(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "lab-nodes: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int ok = fprintf(f, "%d\n", (int)getpid()) > 0;
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "lab-nodes: writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_nodes(int argc, char **argv)
{
	int i = 2;
	const char *cgroup = NULL;
	long uid = -1;
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--cgroup") == 0)
			cgroup = argv[i + 1];
		else if (strcmp(argv[i], "--uid") == 0)
			uid = strtol(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (cgroup && join_cgroup(cgroup) < 0)
		return 1;
	if (uid >= 0) {
		if (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0) {
			fprintf(stderr, "lab-nodes: dropping to uid %ld: %s\n", uid, strerror(errno));
			return 1;
		}
	}
	for (; i < argc; i++) {
		int fd = open(argv[i], O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			printf("%s OPENED\n", argv[i]);
			close(fd);
		} else {
			const char *n = strerrorname_np(errno);
			printf("%s %s\n", argv[i], n ? n : "E?");
		}
	}
	return 0;
}

static int acl_users(int argc, char **argv)
{
	int rc = 0;
	for (int i = 2; i < argc; i++) {
		unsigned char buf[4096];
		ssize_t n = getxattr(argv[i], "system.posix_acl_access", buf, sizeof(buf));
		printf("%s", argv[i]);
		if (n < 0 && (errno == ENODATA || errno == EOPNOTSUPP)) {
			printf(" none\n");
			continue;
		}
		if (n < 4) {
			printf(" unreadable (%s)\n", n < 0 ? strerror(errno) : "short");
			rc = 1;
			continue;
		}
		uint32_t version;
		memcpy(&version, buf, 4);
		if (version != ACL_XATTR_VERSION) {
			printf(" unknown ACL version %u\n", version);
			rc = 1;
			continue;
		}
		int users = 0;
		for (ssize_t off = 4; off + 8 <= n; off += 8) {
			uint16_t tag;
			uint32_t id;
			memcpy(&tag, buf + off, 2);
			memcpy(&id, buf + off + 4, 4);
			if (tag == ACL_TAG_USER) {
				printf(" u:%u", id);
				users++;
			}
		}
		printf("%s\n", users ? "" : " none");
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "open") == 0)
		return open_nodes(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "acl") == 0)
		return acl_users(argc, argv);
	fprintf(stderr, "usage: lab-nodes open [--cgroup DIR] [--uid UID] NODE... | lab-nodes acl NODE...\n");
	return 2;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef QEMU_DM_H
#define QEMU_DM_H

/*
 * libqemu-dm: start and stop Xen device models as confined systemd units.
 *
 * For libxl: where it would fork+exec QEMU, it calls qemu_dm_start(), which
 * starts the transient unit qemu-dm@<domid>.service over systemd's D-Bus API
 * (StartTransientUnit; the private socket /run/systemd/private when root, so no
 * bus daemon is needed) and waits for its start job. The unit is Type=notify
 * and qemu-dm-exec reports readiness right before it execs QEMU, so success
 * means: every check passed (domain alive, uid free, argv restricted, chroot
 * ready) and QEMU was exec'd. Any failure before that returns the reason.
 * The caller then waits for QEMU itself (QMP), as libxl does.
 *
 * Conventions:
 *  - Every function returns 0 on success or a negative errno value. When
 *    `error` is not NULL, a failure stores a malloc()ed message for the
 *    administrator there (naming the domain and the reason); free it with
 *    qemu_dm_free(). On success *error is set to NULL.
 *  - Nothing here aborts, exits, or lets a C++ exception escape.
 *  - Blocking: start waits for the systemd job, i.e. until QEMU is exec'd or
 *    the start failed (the unit's TimeoutStartSec= is 60 s; an uncached QEMU
 *    probe takes seconds); no fixed settle time. stop waits until every
 *    process of the unit is gone (at most timeout_sec, after which systemd
 *    SIGKILLs the rest).
 *  - Threading: calls are independent (each opens its own connection to
 *    systemd) and may be made from several threads; an options object must
 *    not be shared between threads while it is modified.
 *  - Signals: none are installed or blocked.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qemu_dm_options qemu_dm_options;

typedef enum {
	QEMU_DM_GUEST_HVM = 0,
	QEMU_DM_GUEST_PV = 1,
	QEMU_DM_GUEST_PVH = 2,
} qemu_dm_guest_type;

qemu_dm_options *qemu_dm_options_new(void);
void qemu_dm_options_free(qemu_dm_options *options);

/* The domain's name (journal field XEN_DOMAIN_NAME, unit description). */
int qemu_dm_options_set_name(qemu_dm_options *options, const char *name);
/* xl.cfg device_model_user=: run QEMU as this user instead of xen-qemuuser-<domid>. */
int qemu_dm_options_set_user(qemu_dm_options *options, const char *user);
int qemu_dm_options_set_guest_type(qemu_dm_options *options, qemu_dm_guest_type type);
/* xl.cfg dm_restrict=; not calling it means the host configuration's default. */
int qemu_dm_options_set_restrict(qemu_dm_options *options, int restrict_dm);
/* A disk image or device QEMU opens; read_only != 0 for read-only. */
int qemu_dm_options_add_disk(qemu_dm_options *options, const char *path, int read_only);
/* Another path QEMU needs (firmware, ISO, a socket directory). */
int qemu_dm_options_add_path(qemu_dm_options *options, const char *path, int writable);
/* An extra device node, permissions from "rwm". */
int qemu_dm_options_add_device(qemu_dm_options *options, const char *node, const char *permissions);
/*
 * Hand `fd` (e.g. libxl's pre-opened QMP listening socket) to QEMU as file
 * descriptor `target` (>= 3), the number QEMU's argv names (fd=N). The
 * caller keeps its own copy of `fd`.
 */
int qemu_dm_options_set_qmp_fd(qemu_dm_options *options, int fd, int target);
/*
 * Hand another fd to QEMU as file descriptor `target` (>= 3, < 1024): the
 * incoming stream of a restore or migration (-incoming fd:N), a log file.
 * `fd` must be a socket, a pipe or FIFO, or a regular file; at start it is
 * checked (open, of one of these types, no target twice, none the QMP
 * target) and qemu_dm_start() fails naming the domain otherwise, starting
 * nothing. The caller keeps its own copy of `fd`. -EINVAL for target < 3.
 */
int qemu_dm_options_add_fd(qemu_dm_options *options, int fd, int target);
/*
 * Network needs of this domain; everything else stays private (no network
 * namespace of the host, AF_UNIX only).
 * vnc_localhost: QEMU serves VNC on TCP localhost (libxl's vfb, "-vnc
 * 127.0.0.1:N"): AF_INET/AF_INET6 in the host's network namespace, so dom0
 * can connect, with IP traffic to and from localhost only.
 */
int qemu_dm_options_set_vnc_localhost(qemu_dm_options *options, int enable);
/* An emulated NIC's tap interface (<= 15 characters), which QEMU creates:
 * the host's network namespace, /dev/net/tun and CAP_NET_ADMIN until it drops privileges. */
int qemu_dm_options_add_tap(qemu_dm_options *options, const char *ifname);
/* For stand-in device models without Xen (tests): skip the domain check. */
int qemu_dm_options_set_domain_check(qemu_dm_options *options, int check);

/*
 * For callers that have only the QEMU command line stock libxl 4.17 builds
 * (xl.cfg device_model_override=, see qemu-dm-shim(8)): a new options object
 * with everything that argv says (name, guest type, dm_restrict,
 * device_model_user, the QMP socket fd, disks, restore file, VNC on localhost,
 * taps) and the domid. argv[0] (the program libxl ran) is ignored; QEMU is the
 * configuration's Qemu=. The QMP socket is the caller's fd of the number the
 * argv names (fd=N), and so is a restore's saved state (-incoming fd:M: the
 * caller's fd M, as if added with qemu_dm_options_add_fd(o, M, M)). Pass the object to qemu_dm_start() with argv NULL to
 * start exactly that argv; free it with qemu_dm_options_free(). On error
 * *options is NULL and *error says why (a VNC beyond localhost, no -xen-domid).
 */
int qemu_dm_options_from_qemu_argv(const char *const *argv, qemu_dm_options **options, uint32_t *domid, char **error);

/*
 * Start the device model of `domid`; argv[0] is the absolute path of QEMU,
 * NULL-terminated (or argv NULL: the argv of qemu_dm_options_from_qemu_argv()). Returns 0 once QEMU was exec'd in the unit; on failure
 * (-EIO when the unit failed to start) *error names the domain, the cause
 * (qemu-dm-exec's reason) and the unit's last journal lines, and nothing of
 * the attempt is left loaded. Notes on a start that succeeded (a shared-user
 * fallback, a host link not made) are logged at debug level only
 * (QEMU_DM_LOG_LEVEL=debug); `qemu-dmctl policy` prints them.
 */
int qemu_dm_start(uint32_t domid, const char *const *argv, const qemu_dm_options *options, char **error);
/* Stop it; returns once the unit is inactive and every process of it is gone. */
int qemu_dm_stop(uint32_t domid, unsigned timeout_sec, char **error);
/*
 * Destroy it, what `xl destroy` means: SIGKILL every process of its unit at
 * once (no SIGTERM, no stop timeout); returns once the unit is inactive and
 * every process of it is gone (at most timeout_sec, 0 = 30 s).
 */
int qemu_dm_destroy(uint32_t domid, unsigned timeout_sec, char **error);
/* Send `signo` to every process of it. */
int qemu_dm_kill(uint32_t domid, int signo, char **error);

/*
 * Change the medium of a running device model's drive without giving the DM
 * the path: the caller (root) opens `path` read-only (symlinks, world-writable
 * parents and system locations are refused, as for disks) and hands QEMU the
 * fd over libxl's QMP socket /var/run/xen/qmp-libxl-<domid> (QMP add-fd, then
 * blockdev-change-medium of /dev/fdset/N, raw, read-only). `path` NULL ejects.
 * `drive`: an xl vdev (hda..hdd) or QEMU's block device name (ide-5632).
 * Bounded: a DM that does not answer within timeout_sec (0: 10 s), or sends
 * oversized or malformed replies, makes it fail (-ETIMEDOUT, -EMSGSIZE,
 * -EPROTO) naming the domain; QEMU's own refusal is -EIO with its reason.
 */
int qemu_dm_cdrom_change(uint32_t domid, const char *drive, const char *path, unsigned timeout_sec, char **error);

typedef struct {
	char active_state[32]; /* "active", "inactive", "failed", ... */
	char sub_state[32];
	uint32_t main_pid;
	uint32_t uid;
} qemu_dm_status;

int qemu_dm_get_status(uint32_t domid, qemu_dm_status *status, char **error);
/* The domids with a loaded qemu-dm@ unit; *domids is malloc()ed (qemu_dm_free). */
int qemu_dm_list(uint32_t **domids, size_t *count, char **error);

void qemu_dm_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* QEMU_DM_H */

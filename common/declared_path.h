/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a caller may declare for one domain (disks, extra paths, device
 * nodes), checked before any of it becomes a BindPaths=/ReadWritePaths=/
 * DeviceAllow= line of the DM's unit. The rule (docs/confinement.md, "Declared
 * objects"):
 *
 *  - spelling: an absolute, normal path ("/" + components separated by one
 *    '/', no "." or "..", no trailing '/'), at most kMaxDeclaredPathLength
 *    bytes, components of [A-Za-z0-9._+,=@~-] only, not starting with '-'.
 *    So the path means one thing in every place it is written: no whitespace
 *    (unit-file lists split on it), no ':' (BindPaths= source:destination),
 *    no quotes, '\', '%' (specifiers) or '$' (environment expansion), no
 *    control characters.
 *  - no symlink anywhere: every component is opened with O_NOFOLLOW from the
 *    previous directory's fd, so the object checked is the object the path
 *    names when nobody can write its parents;
 *  - no parent directory writable by others (S_IWOTH, sticky or not: /tmp,
 *    /var/tmp, /dev/shm are refused), and every parent owned by root (or the
 *    caller's own euid) and group-writable only for group 0: nobody but root
 *    can rename or replace what the path names between this check and
 *    systemd's bind mount at start;
 *  - the object is of the declared kind: a disk or path is a regular file
 *    or a block device, a device node a character or block device; never a
 *    directory, socket or FIFO; a regular file has exactly one link and no
 *    set-uid/set-gid bit;
 *  - not a system location: "/", and nothing in /etc, /usr, /boot, /root,
 *    /proc, /sys, /run, /var/lib/{systemd,dpkg,apt,qemu-dm,xen/userdata...},
 *    /var/cache, /var/log, /var/spool; in /dev only device nodes (block
 *    devices for disks), and never /dev/mem, /dev/kmem, /dev/port.
 *    Image directories such as /var/lib/xen/images or /srv stay allowed.
 *
 * The check returns the identity (st_dev, st_ino) of what it checked, so a
 * caller can compare it with what the DM sees once its unit runs.
 */

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"
#include "unique_fd.h"

namespace qemudm {

constexpr size_t kMaxDeclaredPathLength = 1024;

enum class DeclaredKind {
	Disk,	/* a regular file or block device */
	Path,	/* a regular file or block device (e.g. an incoming migration stream) */
	Device, /* a character or block device node */
};

struct DeclaredObject {
	dev_t dev = 0;
	ino_t ino = 0;
	mode_t mode = 0;
};

/* Only the spelling rule (no file system access). Errors: "domain 5: disk '/a b' ...". */
[[nodiscard]] Status checkDeclaredPathSpelling(uint32_t domid, std::string_view what, std::string_view path);

/*
 * The whole rule, against the file system. `root` is the directory the path
 * is resolved in ("/" normally; tests pass another one). Errors name the
 * domain, what was declared and the reason:
 *   "domain 5: disk /srv/a.img: No such file or directory"
 *   "domain 5: disk /srv/l.img: /srv/l.img is a symbolic link, which qemu-dm does not accept"
 */
[[nodiscard]] Result<DeclaredObject> checkDeclaredObject(uint32_t domid, std::string_view what, const std::string &path,
							 DeclaredKind kind, const std::string &root = "/");

struct OpenedObject {
	UniqueFd fd; /* O_CLOEXEC */
	DeclaredObject object;
};

/*
 * The whole rule, then open what was checked (the very object, not the path
 * again) with `flags` (O_RDONLY or O_RDWR, nothing else), as the caller, for a
 * device model that gets the fd instead of the path. Disks and paths only.
 */
[[nodiscard]] Result<OpenedObject> openDeclaredObject(uint32_t domid, std::string_view what, const std::string &path,
						      DeclaredKind kind, int flags, const std::string &root = "/");

} /* namespace qemudm */

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dev_grant.h"

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <type_traits>

#include <fmt/format.h>

#include "c_ptr.h"

namespace qemudm {

namespace {

using AclPtr = CPtr<std::remove_pointer_t<acl_t>, acl_free>;

/* The node itself, never a link to it: the handle every change goes through. */
Result<UniqueFd> openNode(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	if (!fd)
		return errnoError(errno, "Failed to open {}", path);
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "Failed to stat {}", path);
	if (!S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))
		return makeError(EPERM, "Refusing {}: not a character device", path);
	return fd;
}

std::string procPath(const UniqueFd &fd)
{
	return fmt::format("/proc/self/fd/{}", fd.get());
}

Result<AclPtr> readAcl(const UniqueFd &fd, const std::string &path)
{
	AclPtr acl(acl_get_file(procPath(fd).c_str(), ACL_TYPE_ACCESS));
	if (!acl)
		return errnoError(errno, "Failed to read the ACL of {}", path);
	return acl;
}

/* The ACL_USER entry of `uid`, or nullptr. */
acl_entry_t findUser(acl_t acl, uid_t uid)
{
	acl_entry_t e;
	for (int r = acl_get_entry(acl, ACL_FIRST_ENTRY, &e); r == 1; r = acl_get_entry(acl, ACL_NEXT_ENTRY, &e)) {
		acl_tag_t tag;
		if (acl_get_tag_type(e, &tag) < 0 || tag != ACL_USER)
			continue;
		auto *q = static_cast<uid_t *>(acl_get_qualifier(e));
		if (!q)
			continue;
		bool match = *q == uid;
		acl_free(q);
		if (match)
			return e;
	}
	return nullptr;
}

Status writeAcl(acl_t &acl, const UniqueFd &fd, const std::string &path)
{
	if (acl_calc_mask(&acl) < 0)
		return errnoError(errno, "Failed to compute the ACL mask of {}", path);
	if (acl_valid(acl) < 0)
		return errnoError(errno, "Failed to build a valid ACL for {}", path);
	if (acl_set_file(procPath(fd).c_str(), ACL_TYPE_ACCESS, acl) < 0)
		return errnoError(errno, "Failed to write the ACL of {}", path);
	return success();
}

} /* namespace */

std::string readyQmpSocketPath(uint32_t domid)
{
	return fmt::format("/run/qemu-dm/{}/qmp-qemu-dm", domid);
}

bool isXenNodePath(std::string_view path)
{
	if (!path.starts_with(kXenDevDir) || path.size() <= kXenDevDir.size() + 1 || path[kXenDevDir.size()] != '/')
		return false;
	std::string_view name = path.substr(kXenDevDir.size() + 1);
	return name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

Result<GrantLock> GrantLock::acquire(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
	if (!fd)
		return errnoError(errno, "Failed to open the grant lock {}", path);
	int r;
	while ((r = ::flock(fd.get(), LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return errnoError(errno, "Failed to lock {}", path);
	return GrantLock(std::move(fd));
}

Status grantUserAccess(const std::string &path, uid_t uid)
{
	if (uid == 0)
		return makeError(EPERM, "Refusing to grant {} to uid 0", path);
	auto fd = openNode(path);
	if (!fd)
		return fd.error();
	auto acl = readAcl(*fd, path);
	if (!acl)
		return acl.error();
	acl_t a = acl->get();
	acl_entry_t e = findUser(a, uid);
	if (!e) {
		if (acl_create_entry(&a, &e) < 0 || acl_set_tag_type(e, ACL_USER) < 0 || acl_set_qualifier(e, &uid) < 0)
			return errnoError(errno, "Failed to add an entry for uid {} to the ACL of {}", uid, path);
		/* acl_create_entry() may move the ACL. */
		(void)acl->release();
		acl->reset(a);
	}
	acl_permset_t perms;
	if (acl_get_permset(e, &perms) < 0 || acl_clear_perms(perms) < 0 || acl_add_perm(perms, ACL_READ) < 0 ||
	    acl_add_perm(perms, ACL_WRITE) < 0 || acl_set_permset(e, perms) < 0)
		return errnoError(errno, "Failed to set the permissions of uid {} in the ACL of {}", uid, path);
	a = acl->get();
	Status s = writeAcl(a, *fd, path);
	/* acl_calc_mask() may move the ACL too. */
	(void)acl->release();
	acl->reset(a);
	return s;
}

Result<bool> revokeUserAccess(const std::string &path, uid_t uid)
{
	auto fd = openNode(path);
	if (!fd) {
		if (fd.error().code() == ENOENT)
			return false;
		return fd.error();
	}
	auto acl = readAcl(*fd, path);
	if (!acl)
		return acl.error();
	acl_t a = acl->get();
	acl_entry_t e = findUser(a, uid);
	if (!e)
		return false;
	if (acl_delete_entry(a, e) < 0)
		return errnoError(errno, "Failed to remove uid {} from the ACL of {}", uid, path);
	Status s = writeAcl(a, *fd, path);
	(void)acl->release();
	acl->reset(a);
	if (!s)
		return s.error();
	return true;
}

Result<std::vector<AclUserEntry>> listUserAccess(const std::string &path)
{
	std::vector<AclUserEntry> out;
	auto fd = openNode(path);
	if (!fd) {
		if (fd.error().code() == ENOENT)
			return out;
		return fd.error();
	}
	auto acl = readAcl(*fd, path);
	if (!acl)
		return acl.error();
	acl_entry_t e;
	for (int r = acl_get_entry(acl->get(), ACL_FIRST_ENTRY, &e); r == 1;
	     r = acl_get_entry(acl->get(), ACL_NEXT_ENTRY, &e)) {
		acl_tag_t tag;
		if (acl_get_tag_type(e, &tag) < 0 || tag != ACL_USER)
			continue;
		auto *q = static_cast<uid_t *>(acl_get_qualifier(e));
		if (!q)
			return errnoError(errno, "Failed to read an entry of the ACL of {}", path);
		AclUserEntry entry;
		entry.uid = *q;
		acl_free(q);
		acl_permset_t perms;
		if (acl_get_permset(e, &perms) < 0)
			return errnoError(errno, "Failed to read an entry of the ACL of {}", path);
		entry.read = acl_get_perm(perms, ACL_READ) == 1;
		entry.write = acl_get_perm(perms, ACL_WRITE) == 1;
		out.push_back(entry);
	}
	return out;
}

Result<bool> supportsPosixAcl(const std::string &path)
{
	if (::lgetxattr(path.c_str(), "system.posix_acl_access", nullptr, 0) >= 0 || errno == ENODATA)
		return true;
	if (errno == EOPNOTSUPP)
		return false;
	return errnoError(errno, "Failed to read the ACL of {}", path);
}

Status requireDeviceGrant(const std::string &dir)
{
	std::string probe = dir;
	if (::access(probe.c_str(), F_OK) < 0 && errno == ENOENT)
		probe = std::filesystem::path(dir).parent_path().string();
	auto acl = supportsPosixAcl(probe);
	if (!acl)
		return acl.error().wrap("Failed to check whether the Xen nodes can be granted");
	if (!*acl)
		return makeError(EOPNOTSUPP,
				 "{} stores no POSIX ACLs: PrivilegeModel=never-root cannot grant a device model's "
				 "uid its Xen nodes (set PrivilegeModel=root in [Device Model] of qemu-dm.conf, or use "
				 "a kernel with CONFIG_TMPFS_POSIX_ACL=y; qemu-dmctl check)",
				 probe);
	return success();
}

} /* namespace qemudm */

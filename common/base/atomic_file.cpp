/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace qemudm {

namespace {

/* rename(2) that never replaces the target. */
int renameNoReplace(const char *from, const char *to)
{
	if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* The file system cannot do RENAME_NOREPLACE: link() fails with EEXIST just the same. */
	if (::link(from, to) < 0)
		return -errno;
	(void)::unlink(from);
	return 0;
}

} /* namespace */

AtomicFile::AtomicFile(UniqueFd fd, std::filesystem::path path, std::filesystem::path tempPath)
    : fd_(std::move(fd)), path_(std::move(path)), tempPath_(std::move(tempPath))
{
}

AtomicFile::AtomicFile(AtomicFile &&other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)), tempPath_(std::move(other.tempPath_)),
      done_(other.done_)
{
	other.done_ = true;
}

AtomicFile::~AtomicFile()
{
	if (!done_ && !tempPath_.empty()) {
		fd_.reset();
		(void)::unlink(tempPath_.c_str());
	}
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path &dir, std::string_view name, mode_t mode)
{
	if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
		return makeError(EINVAL, "Failed to create file '{}' in {}: invalid file name", name, dir.string());
	std::filesystem::path path = dir / std::string(name);
	std::string tmpl = (dir / (".#" + std::string(name) + "XXXXXX")).string();
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	int fd = ::mkostemp(buf.data(), O_CLOEXEC);
	if (fd < 0)
		return errnoError(errno, "Failed to create a temporary file for {}", path.string());
	UniqueFd owned(fd);
	std::filesystem::path tempPath(buf.data());
	AtomicFile file(std::move(owned), std::move(path), std::move(tempPath));
	if (::fchmod(file.fd_.get(), mode) < 0)
		return errnoError(errno, "Failed to set the mode of {}", file.tempPath_.string());
	return file;
}

Status AtomicFile::write(std::string_view text)
{
	if (done_ || !fd_)
		return makeError(EBADF, "Failed to write {}: file already closed", path_.string());
	while (!text.empty()) {
		ssize_t n = ::write(fd_.get(), text.data(), text.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errnoError(errno, "Failed to write {}", tempPath_.string());
		}
		text.remove_prefix(static_cast<size_t>(n));
	}
	return success();
}

Status AtomicFile::commit()
{
	if (done_ || !fd_)
		return makeError(EBADF, "Failed to commit {}: file already closed", path_.string());
	int fd = fd_.release();
	if (::close(fd) < 0 && errno != EINTR)
		return errnoError(errno, "Failed to close {}", tempPath_.string());
	int r = renameNoReplace(tempPath_.c_str(), path_.c_str());
	if (r < 0) {
		if (r == -EEXIST)
			return makeError(EEXIST, "Failed to create {}: file exists (duplicate entry?)", path_.string());
		return errnoError(r, "Failed to rename {} to {}", tempPath_.string(), path_.string());
	}
	done_ = true;
	return success();
}

Status writeFileAtomic(const std::filesystem::path &dir, std::string_view name, std::string_view text, mode_t mode)
{
	auto file = AtomicFile::create(dir, name, mode);
	if (!file)
		return file.error();
	if (auto r = file->write(text); !r)
		return r;
	return file->commit();
}

} /* namespace qemudm */

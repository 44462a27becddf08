/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "unit_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <string_view>
#include <utility>
#include <vector>

#include "file_util.h"
#include "parse_util.h"
#include "unique_fd.h"

namespace qemudm::cgroup {

std::optional<CgroupDir> unitCgroupDir(const std::string &controlGroup)
{
	if (controlGroup.size() < 2 || controlGroup[0] != '/' ||
	    std::filesystem::path(controlGroup).lexically_normal().string() != controlGroup)
		return std::nullopt;
	const std::pair<const char *, bool> roots[] = { { "/sys/fs/cgroup", true },
							{ "/sys/fs/cgroup/unified", true },
							{ "/sys/fs/cgroup/systemd", false } };
	for (auto [root, unified] : roots) {
		struct statfs fs;
		if (::statfs(root, &fs) < 0)
			continue;
		if (static_cast<unsigned long>(fs.f_type) != (unified ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC))
			continue;
		CgroupDir dir{ std::string(root) + controlGroup, unified };
		struct stat st;
		if (::stat(dir.path.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
			return std::nullopt;
		return dir;
	}
	return std::nullopt;
}

Result<std::set<pid_t>> cgroupPids(const std::filesystem::path &dir)
{
	std::set<pid_t> pids;
	std::error_code ec;
	std::vector<std::filesystem::path> dirs = { dir };
	for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
		if (it->is_directory(ec))
			dirs.push_back(it->path());
	if (ec)
		return errnoError(ec.value(), "Failed to list the cgroups below {}", dir.string());
	for (const auto &d : dirs) {
		auto text = readFile(d / "cgroup.procs", { .missingOk = true });
		if (!text)
			return text.error();
		if (!*text) /* removed since it was listed */
			continue;
		size_t pos = 0;
		const std::string &s = **text;
		while (pos < s.size()) {
			size_t nl = s.find('\n', pos);
			std::string_view word(s.data() + pos, (nl == std::string::npos ? s.size() : nl) - pos);
			pos = nl == std::string::npos ? s.size() : nl + 1;
			if (auto pid = parseInteger<pid_t>(word); pid && *pid > 0)
				pids.insert(*pid);
		}
	}
	return pids;
}

Result<size_t> killCgroup(const CgroupDir &dir, std::chrono::steady_clock::time_point deadline)
{
	if (dir.unified) {
		UniqueFd fd(::open((dir.path / "cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
		if (fd && ::write(fd.get(), "1", 1) == 1)
			return size_t{ 0 };
		if (fd || errno != ENOENT)
			return errnoError(errno, "Failed to write {}/cgroup.kill", dir.path.string());
	}
	std::set<pid_t> signalled;
	for (;;) {
		auto listed = cgroupPids(dir.path);
		if (!listed)
			return listed.error();
		std::vector<std::pair<pid_t, UniqueFd>> opened;
		for (pid_t pid : *listed) {
			if (signalled.count(pid))
				continue;
			UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
			if (fd)
				opened.emplace_back(pid, std::move(fd));
			else if (errno != ESRCH)
				return errnoError(errno, "Failed to open process {} of {}", pid, dir.path.string());
		}
		if (opened.empty())
			return signalled.size();
		if (std::chrono::steady_clock::now() >= deadline)
			return makeError(ETIMEDOUT, "Failed to kill the processes of {}: still new ones",
					 dir.path.string());
		auto still = cgroupPids(dir.path);
		if (!still)
			return still.error();
		for (auto &[pid, fd] : opened) {
			if (!still->count(pid))
				continue;
			if (::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0) < 0 && errno != ESRCH)
				return errnoError(errno, "Failed to kill process {} of {}", pid, dir.path.string());
			signalled.insert(pid);
		}
	}
}

} /* namespace qemudm::cgroup */

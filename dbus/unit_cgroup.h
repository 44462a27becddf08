/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A unit's cgroup directory and SIGKILL to every process in it, for
 * SystemdManager::destroyUnit. Internal to the client library; the tests link
 * it to run the pidfd walk on a hierarchy of their choosing.
 */

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "result.h"

namespace qemudm::cgroup {

/* A cgroup directory; `unified`: cgroup v2, where cgroup.kill may exist. */
struct CgroupDir {
	std::filesystem::path path;
	bool unified = false;
};

/*
 * The directory of a unit's cgroup (ControlGroup=, relative to the root of
 * the hierarchy systemd manages) in this mount namespace: the unified
 * hierarchy (cgroup v2, or the hybrid layout's unified one), else systemd's
 * named v1 hierarchy. nullopt if none has it.
 */
std::optional<CgroupDir> unitCgroupDir(const std::string &controlGroup);

/* The pids in the cgroup.procs of `dir` and of every cgroup below it. */
Result<std::set<pid_t>> cgroupPids(const std::filesystem::path &dir);

/*
 * SIGKILL to every process of the cgroup directory `dir`, as the caller.
 * cgroup.kill where `dir.unified` and the kernel has it (atomic); else every
 * pid listed, by pidfd, and only a pid still listed after its pidfd was
 * opened (so a pid reused outside the cgroup is never signalled), again until
 * a pass finds none it has not signalled. Returns the number of processes
 * signalled (0 for cgroup.kill, which does not tell); ETIMEDOUT if new ones
 * still appear at `deadline`.
 */
Result<size_t> killCgroup(const CgroupDir &dir, std::chrono::steady_clock::time_point deadline);

} /* namespace qemudm::cgroup */

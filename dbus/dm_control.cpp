/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_control.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>

#include <systemd/sd-journal.h>
#include <systemd/sd-messages.h>

#include "c_ptr.h"
#include "declared_path.h"
#include "dev_grant.h"
#include "fd_channel.h"
#include "log.h"
#include "qemu_probe.h"
#include "xen_store.h"

namespace qemudm {

namespace {

using JournalPtr = CPtr<sd_journal, sd_journal_close>;

constexpr const char *kHostPolicyDropIn = "/run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-hardening.conf";

std::string userName(uid_t uid)
{
	struct passwd pw, *res = nullptr;
	char buf[4096];
	if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		return res->pw_name;
	return std::to_string(uid);
}

Status validDomid(uint32_t domid)
{
	if (domid < 1 || domid > kMaxDomid)
		return makeError(EINVAL, "domain {}: invalid domain id, expected 1 to {}", domid, kMaxDomid);
	return success();
}

bool isRunning(const std::string &state)
{
	return state == "active" || state == "activating" || state == "reloading" || state == "deactivating";
}

/* The never-root grant and ready units of domain `domid` (units/qemu-dm-grant@.service.in, qemu-dm-ready@). */
std::vector<std::string> grantUnitNames(uint32_t domid)
{
	return { grantUnitName(domid), readyUnitName(domid) };
}

/* Which of them `unit` is bound to (BindsTo=, the never-root drop-in), read while it is loaded; none as root. */
std::vector<std::string> boundGrantUnits(SystemdManager &manager, const std::string &unit, uint32_t domid)
{
	std::vector<std::string> out;
	auto bound = manager.unitProperty<std::vector<std::string>>(unit, "org.freedesktop.systemd1.Unit", "BindsTo");
	if (!bound)
		return out;
	for (const auto &g : grantUnitNames(domid))
		if (std::find(bound->begin(), bound->end(), g) != bound->end())
			out.push_back(g);
	return out;
}

/*
 * After the DM unit stopped: its grant unit revokes in ExecStopPost=, after
 * the DM ended. Waits for that (a stop job joins the pending one), so that
 * "stopped" means the access is gone too, and the DM's transient unit, which
 * a loaded grant or ready unit keeps loaded, can be started again at once.
 */
Status stopGrantUnits(SystemdManager &manager, uint32_t domid, const std::vector<std::string> &units)
{
	for (const auto &u : units) {
		if (Status s = manager.stopUnit(u, std::chrono::seconds(30)); !s)
			return s.error().wrap(fmt::format("domain {}: the device model stopped, but not {}", domid, u));
		if (auto st = manager.activeState(u); st && *st == "failed")
			return makeError(EIO,
					 "domain {}: the device model stopped, but {} failed: its Xen device access "
					 "may be left (journalctl -u {})",
					 domid, u, u);
	}
	return success();
}

} /* namespace */

Result<DmController> DmController::open(std::optional<std::string> address)
{
	auto m = SystemdManager::connect(std::move(address));
	if (!m)
		return m.error().wrap("Failed to connect to systemd");
	return DmController(std::move(*m));
}

namespace {

void addQemuCaps(DmUnitPlan &plan, const std::string &cacheDir)
{
	auto sep = std::find(plan.execStart.begin(), plan.execStart.end(), "--");
	if (sep == plan.execStart.end() || sep + 1 == plan.execStart.end())
		return;
	const std::string qemu = *(sep + 1);
	QemuProbeOptions opts;
	opts.cacheDir = cacheDir;
	opts.createCacheDir = !cacheDir.empty();
	auto probe = probeQemu(qemu, opts);
	if (!probe) {
		/* qemu-dm-exec probes it again and reports why it cannot run it. */
		log::debug("domain {}: not probing {} for qemu-dm-exec: {}", plan.domid, qemu, probe.error().message());
		return;
	}
	std::string word = encodeQemuCaps(probe->id, probe->caps);
	plan.execStart.insert(sep, { "--qemu-caps", std::move(word) });
}

} /* namespace */

Result<std::vector<DriveFd>> planDiskFds(DmRequest &request, std::span<const int> usedTargets)
{
	std::set<std::string, std::less<>> paths, readOnly;
	for (const DiskSpec &d : request.disks) {
		struct stat st;
		/* A block device keeps its path (QEMU's "file" driver refuses one): only regular files. */
		if (::stat(d.path.c_str(), &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		paths.insert(d.path);
		if (d.readOnly)
			readOnly.insert(d.path);
	}
	if (paths.empty())
		return std::vector<DriveFd>{};
	auto plan = planDriveFds(request.qemuArgv, paths, readOnly, usedTargets);
	if (!plan)
		return plan.error().wrap(fmt::format("domain {}", request.domid));
	for (DiskSpec &d : request.disks)
		d.viaFd = d.viaFd || std::any_of(plan->drives.begin(), plan->drives.end(),
						 [&](const DriveFd &f) { return f.path == d.path; });
	request.qemuArgv = std::move(plan->argv);
	return std::move(plan->drives);
}

namespace {

std::vector<int> usedFdTargets(const DmRequest &request)
{
	std::vector<int> used = request.argvFds;
	if (request.qmpFdTarget >= 0)
		used.push_back(request.qmpFdTarget);
	for (const FdDecl &d : request.fds)
		used.push_back(d.target);
	return used;
}

} /* namespace */

Result<DmUnitPlan> planWithXen(const Config &config, const DmRequest &request, UserLookup &lookup)
{
	DmRequest req = request;
	std::vector<std::string> notes;
	if (req.domainCheck) {
		/* Where Xen knows best. No xenstore (no Xen): qemu-dm-exec's domain check says so. */
		auto xs = openXenstore();
		if (!xs) {
			log::debug("domain {}: not reading xenstore: {}", req.domid, xs.error().message());
		} else if (auto s = completeFromXenstore(req, **xs, notes); !s) {
			return s.error();
		}
	}
	/* What start() opens for QEMU, declared the same way here (a dry run shows the fds too). */
	auto drives = planDiskFds(req, usedFdTargets(req));
	if (!drives)
		return drives.error();
	for (const DriveFd &d : *drives)
		for (int t : { d.readWriteTarget, d.readOnlyTarget })
			if (t >= 0)
				req.fds.push_back(FdDecl{ t, ChannelFdKind::File });
	auto plan = planDmUnit(config, req, lookup);
	if (!plan)
		return plan;
	plan->warnings.insert(plan->warnings.end(), notes.begin(), notes.end());
	/*
	 * Probe QEMU here, in the caller (root, outside every DM), and hand the
	 * result to this DM's qemu-dm-exec on its own command line: a DM can
	 * write neither the cache nor another unit's ExecStart, so one DM cannot
	 * steer the next. Only root uses the cache; anyone else (a dry run) probes every time.
	 */
	addQemuCaps(*plan, ::geteuid() == 0 ? std::string(kQemuProbeCacheDir) : std::string());
	return plan;
}

Result<DmUnitPlan> DmController::plan(const DmRequest &request)
{
	auto config = loadDefaultConfig();
	if (!config)
		return config.error().wrap(fmt::format("domain {}: invalid qemu-dm configuration", request.domid));
	SystemUserLookup lookup;
	return planWithXen(*config, request, lookup);
}

std::string DmController::journalExcerpt(const std::string &unit, int lines)
{
	sd_journal *raw = nullptr;
	/* Not SD_JOURNAL_SYSTEM: a never-root DM's own output is in the journal file of its uid. */
	if (sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY) < 0)
		return {};
	JournalPtr j(raw);
	std::string m1 = "_SYSTEMD_UNIT=" + unit, m2 = "UNIT=" + unit;
	if (sd_journal_add_match(j.get(), m1.c_str(), 0) < 0 || sd_journal_add_disjunction(j.get()) < 0 ||
	    sd_journal_add_match(j.get(), m2.c_str(), 0) < 0)
		return {};
	if (sd_journal_seek_tail(j.get()) < 0)
		return {};
	std::vector<std::string> msgs;
	while (static_cast<int>(msgs.size()) < lines && sd_journal_previous(j.get()) > 0) {
		const void *data;
		size_t len;
		if (sd_journal_get_data(j.get(), "MESSAGE", &data, &len) < 0)
			continue;
		std::string_view s(static_cast<const char *>(data), len);
		s.remove_prefix(std::min<size_t>(s.size(), strlen("MESSAGE=")));
		msgs.emplace_back(s);
	}
	std::string out;
	for (auto it = msgs.rbegin(); it != msgs.rend(); ++it)
		out += (out.empty() ? "" : "\n") + *it;
	return out;
}

uint64_t realtimeNowUsec()
{
	struct timespec now;
	::clock_gettime(CLOCK_REALTIME, &now);
	return static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

namespace {

/*
 * Reads the journal entries of `unit` (its own output and systemd's messages
 * about it) from `sinceUsec` on, handing each to `entry` until it returns
 * true; waits for the journal to change, at most `wait`, while none did.
 */
template <typename Entry>
void readUnitJournal(const std::string &unit, uint64_t sinceUsec, std::chrono::milliseconds wait, Entry &&entry)
{
	sd_journal *raw = nullptr;
	/* Not SD_JOURNAL_SYSTEM: a never-root DM's own output is in the journal file of its uid. */
	if (sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY) < 0)
		return;
	JournalPtr j(raw);
	std::string m1 = "_SYSTEMD_UNIT=" + unit, m2 = "UNIT=" + unit;
	if (sd_journal_add_match(j.get(), m1.c_str(), 0) < 0 || sd_journal_add_disjunction(j.get()) < 0 ||
	    sd_journal_add_match(j.get(), m2.c_str(), 0) < 0)
		return;
	if (sd_journal_seek_realtime_usec(j.get(), sinceUsec) < 0)
		return;
	auto field = [&](const char *name) -> std::optional<std::string> {
		const void *data;
		size_t len;
		if (sd_journal_get_data(j.get(), name, &data, &len) < 0)
			return std::nullopt;
		std::string_view v(static_cast<const char *>(data), len);
		v.remove_prefix(std::min(v.size(), strlen(name) + 1));
		return std::string(v);
	};
	const auto deadline = std::chrono::steady_clock::now() + wait;
	for (;;) {
		int r;
		while ((r = sd_journal_next(j.get())) > 0)
			if (entry(field))
				return;
		auto left =
		    std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
		if (r < 0 || left.count() <= 0)
			return;
		if (sd_journal_wait(j.get(), static_cast<uint64_t>(left.count())) < 0)
			return;
	}
}

std::string lastLines(const std::vector<std::string> &msgs, int lines)
{
	std::string out;
	size_t first = msgs.size() > static_cast<size_t>(lines) ? msgs.size() - static_cast<size_t>(lines) : 0;
	for (size_t i = first; i < msgs.size(); i++)
		out += (out.empty() ? "" : "\n") + msgs[i];
	return out;
}

} /* namespace */

DmEnd DmController::unitEnd(const std::string &unit, uint64_t sinceUsec, int lines, std::chrono::milliseconds wait)
{
	DmEnd end;
	std::vector<std::string> msgs;
	readUnitJournal(unit, sinceUsec, wait, [&](auto &field) {
		auto msg = field("MESSAGE");
		if (msg)
			msgs.push_back(*msg);
		if (field("UNIT") != unit)
			return false;
		if (auto code = field("EXIT_CODE")) {
			end.exitCode = *code;
			end.exitStatus = std::atoi(field("EXIT_STATUS").value_or("0").c_str());
		}
		auto id = field("MESSAGE_ID");
		if (id == std::string(SD_MESSAGE_UNIT_SUCCESS_STR) ||
		    id == std::string(SD_MESSAGE_UNIT_FAILURE_RESULT_STR)) {
			end.known = true;
			end.failed = id == std::string(SD_MESSAGE_UNIT_FAILURE_RESULT_STR);
			return true;
		}
		return false;
	});
	end.journal = lastLines(msgs, lines);
	return end;
}

std::string DmController::startFailureExcerpt(const std::string &unit, uint64_t sinceUsec, int lines,
					      std::chrono::milliseconds wait, std::string *cause)
{
	std::vector<std::string> msgs;
	readUnitJournal(unit, sinceUsec, wait, [&](auto &field) {
		auto msg = field("MESSAGE");
		if (!msg)
			return false;
		msgs.push_back(*msg);
		if (cause && field("_SYSTEMD_UNIT") == unit)
			*cause = *msg;
		return field("MESSAGE_ID") == std::string(SD_MESSAGE_UNIT_FAILED_STR) && field("UNIT") == unit;
	});
	return lastLines(msgs, lines);
}

Result<DmStarted> DmController::start(const DmRequest &request, const DmStartOptions &options)
{
	const uint32_t domid = request.domid;
	if (Status v = validDomid(domid); !v)
		return v.error();
	const std::string unit = dmUnitName(domid);

	/* Before the UID policy: a running DM of this domain owns its uid, which would read as "uid busy". */
	auto state = manager_.activeState(unit);
	if (state && isRunning(*state))
		return makeError(EEXIST, "domain {}: a device model is already running ({} is {})", domid, unit,
				 *state);
	if (state && *state == "failed")
		for (const auto &u : grantUnitNames(domid))
			(void)manager_.resetFailed(u);
	if (state && *state == "failed")
		(void)manager_.resetFailed(unit);

	/*
	 * Fail closed if the host policy is not in place (the generator never ran,
	 * or no daemon-reload since the package was installed): the transient unit
	 * would otherwise run with only its per-domain properties.
	 */
	if (::access(kHostPolicyDropIn, F_OK) < 0)
		return makeError(ENOPKG,
				 "domain {}: refusing to start: the host policy {} is missing (run systemctl "
				 "daemon-reload so that qemu-dm-generator writes it)",
				 domid, kHostPolicyDropIn);

	if (request.qmpFdTarget >= 3 && options.qmpFd < 0)
		return makeError(EINVAL, "domain {}: a QMP fd number for QEMU was given but no fd to hand over", domid);

	/* Every fd for QEMU goes over the fd channel, declared by what it is. */
	std::vector<HandedFd> handed;
	if (request.qmpFdTarget >= 3)
		handed.push_back(HandedFd{ options.qmpFd, request.qmpFdTarget });
	handed.insert(handed.end(), options.fds.begin(), options.fds.end());
	DmRequest req = request;

	/*
	 * The disks QEMU would open by path: opened here, as the caller, with the
	 * declared-path rule (the object checked is the object opened), and handed
	 * over as fd sets. QEMU's later reopens (read-write at a restore's "cont",
	 * after its chroot and uid drop) are served from the set, not the path.
	 */
	std::vector<int> used;
	for (const HandedFd &h : handed)
		used.push_back(h.target);
	used.insert(used.end(), req.argvFds.begin(), req.argvFds.end());
	auto drives = planDiskFds(req, used);
	if (!drives)
		return drives.error();
	std::vector<UniqueFd> diskFds;
	for (const DriveFd &d : *drives) {
		for (auto [target, flags] :
		     { std::pair{ d.readWriteTarget, O_RDWR }, std::pair{ d.readOnlyTarget, O_RDONLY } }) {
			if (target < 0)
				continue;
			auto o = openDeclaredObject(domid, "disk", d.path, DeclaredKind::Disk, flags);
			if (!o)
				return o.error();
			handed.push_back(HandedFd{ o->fd.get(), target });
			diskFds.push_back(std::move(o->fd));
		}
	}

	auto decls = declareHandedFds(handed);
	if (!decls)
		return decls.error().wrap(fmt::format("domain {}: refusing the fds for QEMU", domid));
	if (request.qmpFdTarget >= 3 && decls->front().kind != ChannelFdKind::Socket)
		return makeError(EINVAL, "domain {}: refusing the fds for QEMU: the QMP fd {} is a {}, not a socket",
				 domid, options.qmpFd, fdKindName(decls->front().kind));
	req.qmpFdTarget = -1;
	req.fds = *decls;

	auto config = loadDefaultConfig();
	if (!config)
		return config.error().wrap(fmt::format("domain {}: invalid qemu-dm configuration", domid));
	if (config->privilegeModel == PrivilegeModel::NeverRoot)
		if (Status g = requireDeviceGrant(); !g)
			return g.error().wrap(fmt::format("domain {}: refusing to start", domid));
	SystemUserLookup lookup;
	auto p = planWithXen(*config, req, lookup);
	if (!p)
		return p.error();

	BusProperties properties = p->properties;
	properties.push_back(execStartProperty(*p));
	TransientExtras extras;
	UniqueFd channel;
	if (!handed.empty()) {
		auto pair = makeFdChannel();
		if (!pair)
			return pair.error().wrap(fmt::format("domain {}", domid));
		Status sent = sendFds(pair->local.get(), handed, *decls);
		if (!sent)
			return sent.error().wrap(fmt::format("domain {}: Failed to hand over the fds for QEMU", domid));
		channel = std::move(pair->remote); /* our end closes here: the unit sees the end after the fds */
		extras.stdinFd = channel.get();
	}
	DmStarted started{ p->warnings };

	auto cleanup = [&]() {
		const auto bound = boundGrantUnits(manager_, unit, domid);
		(void)manager_.stopUnit(unit, std::chrono::seconds(10));
		(void)stopGrantUnits(manager_, domid, bound);
		for (const auto &u : bound)
			(void)manager_.resetFailed(u);
		(void)manager_.resetFailed(unit);
	};

	const uint64_t since = realtimeNowUsec();
	/*
	 * The unit must carry the host policy. Checked as soon as it is loaded, not
	 * after the job: a DM that ends right after exec is collected by then.
	 */
	extras.afterQueued = [&]() -> Status {
		auto dropIns = manager_.unitProperty<std::vector<std::string>>(unit, "org.freedesktop.systemd1.Unit",
									       "DropInPaths");
		if (!dropIns) /* fail closed, with the reason (e.g. PID 1 did not answer in time) */
			return makeError(ENOPKG,
					 "domain {}: stopped the device model: could not check that {} got the host "
					 "policy {}: {}",
					 domid, unit, kHostPolicyDropIn, dropIns.error().message());
		if (std::any_of(dropIns->begin(), dropIns->end(),
				[](const std::string &d) { return d == kHostPolicyDropIn; }))
			return success();
		return makeError(ENOPKG, "domain {}: stopped the device model: {} did not get the host policy {}",
				 domid, unit, kHostPolicyDropIn);
	};
	auto job = manager_.startTransientUnit(unit, "fail", properties, extras, options.jobTimeout);
	/*
	 * A stop returns once the unit is down and its cgroup empty; PID 1 unloads
	 * the transient unit on a later pass, and until then StartTransientUnit
	 * refuses the name. A unit that is down is released (signals, no polling)
	 * and the start made once more; a running one is refused below.
	 */
	if (!job && job.error().code() == EEXIST) {
		auto released = manager_.releaseStopped(unit, options.jobTimeout);
		log::debug("domain {}: {} was still loaded: {}", domid, unit,
			   released ? std::string("released") : released.error().message());
		if (released)
			job = manager_.startTransientUnit(unit, "fail", properties, extras, options.jobTimeout);
	}
	if (!job) {
		if (job.error().code() == ENOPKG) {
			cleanup();
			return job.error();
		}
		if (job.error().code() == EEXIST)
			return makeError(EEXIST, "domain {}: a device model is already running ({} exists)", domid,
					 unit);
		cleanup();
		return job.error().wrap(fmt::format("domain {}: Failed to start the device model", domid));
	}

	/*
	 * Never-root: the unit is bound to qemu-dm-ready@ (the generator's
	 * 50-qemu-dm-grant.conf), which ends its device access once QEMU answers
	 * QMP. The start is done only then. systemd runs that unit with or without
	 * us; here we only wait for it.
	 */
	if (*job == "done") {
		const std::string ready = readyUnitName(domid);
		const auto bound = boundGrantUnits(manager_, unit, domid);
		if (std::find(bound.begin(), bound.end(), ready) != bound.end()) {
			auto revoked = manager_.startUnit(ready, "fail", options.jobTimeout);
			auto dmState = manager_.activeState(unit);
			if ((!revoked || *revoked != "done") && dmState &&
			    (*dmState == "failed" || *dmState == "inactive" || *dmState == "deactivating")) {
				/* QEMU ended before readiness (BindsTo= stops qemu-dm-ready@ too): its reason, not the grant's. */
				std::string cause;
				std::string journal =
				    startFailureExcerpt(unit, since, 10, std::chrono::seconds(2), &cause);
				cleanup();
				return makeError(
				    EIO,
				    "domain {}: the device model failed to start (it ended before readiness): "
				    "{}{}{}",
				    domid, cause.empty() ? "no reason in the journal" : cause,
				    journal.empty() ? "" : "\n", journal);
			}
			if (!revoked || *revoked != "done") {
				std::string why = revoked ? fmt::format("job {}", *revoked) : revoked.error().message();
				std::string excerpt = journalExcerpt(ready, 5);
				cleanup();
				return makeError(EIO,
						 "domain {}: the device model's Xen device access did not end at "
						 "readiness ({}): stopped it{}{}",
						 domid, why, excerpt.empty() ? "" : "\n", excerpt);
			}
		}
	}

	/* Type=notify: "done" means qemu-dm-exec passed every check and was about to exec QEMU. */
	if (*job == "done") {
		/* libxl's names for the sockets QEMU makes in its runtime dir (xentop's libxenstat socket). */
		if (Status l = makeHostLinks(domid, p->hostLinks); !l)
			started.warnings.push_back(fmt::format("{}, ignoring.", l.error().message()));
		return started;
	}

	std::string cause;
	std::string journal = startFailureExcerpt(unit, since, 10, std::chrono::seconds(2), &cause);
	cleanup();
	return makeError(EIO, "domain {}: the device model failed to start (job {}): {}{}{}", domid, *job,
			 cause.empty() ? "no reason in the journal" : cause, journal.empty() ? "" : "\n", journal);
}

Status DmController::stop(uint32_t domid, std::chrono::milliseconds timeout)
{
	const std::string unit = dmUnitName(domid);
	if (Status r = requireDm(domid, unit); !r)
		return r;
	const auto bound = boundGrantUnits(manager_, unit, domid);
	auto s = manager_.stopUnit(unit, timeout);
	if (!s && s.error().code() == ETIMEDOUT) {
		/* It ignored SIGTERM past our timeout: SIGKILL the whole cgroup, then wait again. */
		log::debug("domain {}: still running after {} ms, sending SIGKILL", domid, timeout.count());
		(void)manager_.killUnit(unit, "all", SIGKILL);
		s = manager_.stopUnit(unit, std::chrono::seconds(10));
	}
	if (!s)
		return s.error().wrap(fmt::format("domain {}: Failed to stop the device model", domid));
	if (Status g = stopGrantUnits(manager_, domid, bound); !g)
		return g;
	(void)manager_.resetFailed(unit);
	/* libxl unlinks its socket names on destroy too; a link of ours left dangling would name nothing. */
	removeHostLinks(domid);
	return success();
}

Status DmController::destroy(uint32_t domid, std::chrono::milliseconds timeout)
{
	const std::string unit = dmUnitName(domid);
	if (Status r = requireDm(domid, unit); !r)
		return r;
	const auto bound = boundGrantUnits(manager_, unit, domid);
	auto s = manager_.destroyUnit(unit, timeout);
	if (!s)
		return s.error().wrap(fmt::format("domain {}: Failed to destroy the device model", domid));
	if (Status g = stopGrantUnits(manager_, domid, bound); !g)
		return g;
	(void)manager_.resetFailed(unit);
	removeHostLinks(domid);
	return success();
}

Status DmController::requireDm(uint32_t domid, const std::string &unit)
{
	if (Status v = validDomid(domid); !v)
		return v;
	auto state = manager_.activeState(unit);
	if (state && *state != "inactive")
		return success();
	auto procs = manager_.unitProcesses(unit);
	if (procs && !procs->empty())
		return success();
	removeHostLinks(domid);
	return makeError(ESRCH, "domain {}: no device model is running", domid);
}

Status DmController::kill(uint32_t domid, int signal)
{
	if (Status v = validDomid(domid); !v)
		return v.error();
	if (signal < 1 || signal >= NSIG)
		return makeError(EINVAL, "domain {}: invalid signal {}", domid, signal);
	const std::string unit = dmUnitName(domid);
	auto state = manager_.activeState(unit);
	if (!state || !isRunning(*state))
		return makeError(ESRCH, "domain {}: no device model is running", domid);
	auto s = manager_.killUnit(unit, "all", signal);
	if (!s)
		return s.error().wrap(fmt::format("domain {}: Failed to signal the device model", domid));
	return success();
}

Result<DmStatus> DmController::status(uint32_t domid)
{
	if (Status v = validDomid(domid); !v)
		return v.error();
	DmStatus st;
	st.domid = domid;
	st.unit = dmUnitName(domid);
	auto active = manager_.activeState(st.unit);
	st.activeState = active ? *active : "inactive";
	if (!active)
		return st;
	if (auto v = manager_.subState(st.unit))
		st.subState = *v;
	if (auto v = manager_.serviceResult(st.unit))
		st.result = *v;
	if (auto v = manager_.mainPid(st.unit))
		st.mainPid = *v;
	if (auto v = manager_.controlGroup(st.unit))
		st.controlGroup = *v;
	if (auto v = manager_.unitProperty<std::string>(st.unit, "org.freedesktop.systemd1.Unit", "Description"))
		st.description = *v;
	if (auto v = manager_.unitProperty<uint64_t>(st.unit, "org.freedesktop.systemd1.Service", "TasksCurrent"))
		st.tasks = *v;
	if (st.mainPid) {
		struct stat sb;
		if (::stat(fmt::format("/proc/{}", st.mainPid).c_str(), &sb) == 0) {
			st.uid = sb.st_uid;
			st.user = userName(sb.st_uid);
		}
	}
	return st;
}

Result<std::vector<DmStatus>> DmController::list()
{
	auto units = manager_.listUnitsByPatterns({ "qemu-dm@*.service" });
	if (!units)
		return units.error().wrap("Failed to list device models");
	std::vector<DmStatus> out;
	for (const auto &u : *units) {
		auto domid = domidFromUnitName(u.name);
		if (!domid)
			continue;
		auto st = status(*domid);
		if (st)
			out.push_back(*st);
	}
	std::sort(out.begin(), out.end(), [](const DmStatus &a, const DmStatus &b) { return a.domid < b.domid; });
	return out;
}

Status makeHostLinks(uint32_t domid, const std::vector<DmUnitPlan::HostLink> &links)
{
	for (const auto &l : links) {
		struct stat st;
		if (::lstat(l.path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && !S_ISSOCK(st.st_mode))
			return makeError(EEXIST, "domain {}: not linking {} to {}: something else is there", domid,
					 l.path, l.target);
		/* Atomically: a new link under a temporary name, renamed over the old one. */
		std::string tmp = l.path + ".qemu-dm-new";
		(void)::unlink(tmp.c_str());
		if (::symlink(l.target.c_str(), tmp.c_str()) < 0)
			return errnoError(errno, "domain {}: Failed to link {} to {}", domid, l.path, l.target);
		if (::rename(tmp.c_str(), l.path.c_str()) < 0) {
			int e = errno;
			(void)::unlink(tmp.c_str());
			return errnoError(e, "domain {}: Failed to link {} to {}", domid, l.path, l.target);
		}
	}
	return success();
}

void removeHostLinks(uint32_t domid)
{
	const std::string target = libxenstatSocketPath(domid);
	for (const auto &path : { fmt::format("/run/xen/qmp-libxenstat-{}", domid),
				  fmt::format("/var/run/xen/qmp-libxenstat-{}", domid) }) {
		char buf[PATH_MAX];
		ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
		if (n > 0 && std::string_view(buf, static_cast<size_t>(n)) == target)
			(void)::unlink(path.c_str());
	}
}

} /* namespace qemudm */

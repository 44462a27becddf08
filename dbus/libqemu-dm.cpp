/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The C ABI over DmController: values in, errno + message out, no exceptions. */

#include "qemu-dm.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "config.h"
#include "dm_control.h"
#include "dm_media.h"
#include "libxl_argv.h"
#include "log.h"

using namespace qemudm;

struct qemu_dm_options {
	DmRequest request;
	int qmpFd = -1;
	std::vector<HandedFd> fds; /* qemu_dm_options_add_fd */
};

namespace {

void setError(char **error, const std::string &message)
{
	if (error)
		*error = ::strdup(message.c_str());
}

int fail(char **error, const Error &e)
{
	setError(error, e.message());
	return -(e.code() ? e.code() : EIO);
}

void clearError(char **error)
{
	if (error)
		*error = nullptr;
}

/* Runs fn; turns a thrown exception (std::bad_alloc, ...) into an error value. */
template <typename Fn>
int guarded(char **error, Fn &&fn) noexcept
{
	try {
		clearError(error);
		return fn();
	} catch (const std::bad_alloc &) {
		setError(error, "Out of memory");
		return -ENOMEM;
	} catch (const std::exception &e) {
		setError(error, std::string("Internal error: ") + e.what());
		return -EIO;
	} catch (...) {
		setError(error, "Internal error");
		return -EIO;
	}
}

} /* namespace */

extern "C" {

qemu_dm_options *qemu_dm_options_new(void)
{
	return new (std::nothrow) qemu_dm_options();
}

void qemu_dm_options_free(qemu_dm_options *options)
{
	delete options;
}

int qemu_dm_options_set_name(qemu_dm_options *o, const char *name)
{
	if (!o || !name)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->request.name = name;
		return 0;
	});
}

int qemu_dm_options_set_user(qemu_dm_options *o, const char *user)
{
	if (!o || !user || !*user)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->request.deviceModelUser = user;
		return 0;
	});
}

int qemu_dm_options_set_guest_type(qemu_dm_options *o, qemu_dm_guest_type type)
{
	if (!o)
		return -EINVAL;
	switch (type) {
	case QEMU_DM_GUEST_HVM:
		o->request.type = GuestType::Hvm;
		return 0;
	case QEMU_DM_GUEST_PV:
		o->request.type = GuestType::Pv;
		return 0;
	case QEMU_DM_GUEST_PVH:
		o->request.type = GuestType::Pvh;
		return 0;
	}
	return -EINVAL;
}

int qemu_dm_options_set_restrict(qemu_dm_options *o, int restrict_dm)
{
	if (!o)
		return -EINVAL;
	o->request.restrict = restrict_dm != 0;
	return 0;
}

int qemu_dm_options_add_disk(qemu_dm_options *o, const char *path, int read_only)
{
	if (!o || !path)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->request.disks.push_back({ path, read_only != 0 });
		return 0;
	});
}

int qemu_dm_options_add_path(qemu_dm_options *o, const char *path, int writable)
{
	if (!o || !path)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->request.paths.push_back({ path, writable != 0 });
		return 0;
	});
}

int qemu_dm_options_add_device(qemu_dm_options *o, const char *node, const char *permissions)
{
	if (!o || !node || !permissions)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->request.devices.push_back({ node, permissions });
		return 0;
	});
}

int qemu_dm_options_set_qmp_fd(qemu_dm_options *o, int fd, int target)
{
	if (!o || fd < 0 || target < 3)
		return -EINVAL;
	o->qmpFd = fd;
	o->request.qmpFdTarget = target;
	return 0;
}

int qemu_dm_options_add_fd(qemu_dm_options *o, int fd, int target)
{
	if (!o || fd < 0 || target < 3 || target >= kMaxFdTarget)
		return -EINVAL;
	return guarded(nullptr, [&] {
		o->fds.push_back(HandedFd{ fd, target });
		return 0;
	});
}

int qemu_dm_options_set_domain_check(qemu_dm_options *o, int check)
{
	if (!o)
		return -EINVAL;
	o->request.domainCheck = check != 0;
	return 0;
}

int qemu_dm_options_set_vnc_localhost(qemu_dm_options *o, int enable)
{
	if (!o)
		return -EINVAL;
	o->request.vncLocalhost = enable != 0;
	return 0;
}

int qemu_dm_options_add_tap(qemu_dm_options *o, const char *ifname)
{
	if (!o || !ifname || !*ifname || std::strlen(ifname) > 15 || std::strpbrk(ifname, "/ \n"))
		return -EINVAL;
	o->request.taps.emplace_back(ifname);
	return 0;
}

int qemu_dm_options_from_qemu_argv(const char *const *argv, qemu_dm_options **options, uint32_t *domid, char **error)
{
	if (error)
		*error = nullptr;
	if (!options || !domid)
		return -EINVAL;
	*options = nullptr;
	return guarded(error, [&] {
		if (!argv || !argv[0])
			return fail(error, makeError(EINVAL, "no QEMU command line given"));
		std::vector<std::string> args;
		for (size_t i = 1; argv[i]; i++)
			args.emplace_back(argv[i]);
		auto config = loadDefaultConfig();
		if (!config)
			return fail(error, config.error().wrap("Failed to load the qemu-dm configuration"));
		auto req = dmRequestFromQemuArgv(args, config->defaultQemu);
		if (!req)
			return fail(error, req.error());
		auto *o = new (std::nothrow) qemu_dm_options;
		if (!o)
			return -ENOMEM;
		o->request = std::move(*req);
		o->qmpFd = o->request.qmpFdTarget; /* the caller's fd N is the one QEMU's argv names */
		for (int fd : o->request.argvFds)
			o->fds.push_back(HandedFd{ fd, fd }); /* -incoming fd:N: the caller's fd N, likewise */
		*domid = o->request.domid;
		*options = o;
		return 0;
	});
}

int qemu_dm_start(uint32_t domid, const char *const *argv, const qemu_dm_options *options, char **error)
{
	return guarded(error, [&] {
		DmRequest req = options ? options->request : DmRequest{};
		if ((!argv || !argv[0]) && req.qemuArgv.empty())
			return fail(error, makeError(EINVAL, "domain {}: no device model command line given", domid));
		req.domid = domid;
		if (argv && argv[0]) {
			req.qemuArgv.clear();
			for (size_t i = 0; argv[i]; i++)
				req.qemuArgv.emplace_back(argv[i]);
		}
		DmStartOptions opts;
		opts.qmpFd = options ? options->qmpFd : -1;
		if (options)
			opts.fds = options->fds;
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error().wrap(fmt::format("domain {}", domid)));
		auto started = ctl->start(req, opts);
		if (!started)
			return fail(error, started.error());
		/* The C API has no channel for notes on success and a library does not log into its caller's
		 * output: they go to the debug log (QEMU_DM_LOG_LEVEL=debug); `qemu-dmctl policy` prints them. */
		for (const auto &w : started->warnings)
			log::debug("{}", w);
		return 0;
	});
}

int qemu_dm_stop(uint32_t domid, unsigned timeout_sec, char **error)
{
	return guarded(error, [&] {
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error().wrap(fmt::format("domain {}", domid)));
		auto s = ctl->stop(domid, std::chrono::seconds(timeout_sec ? timeout_sec : 30));
		return s ? 0 : fail(error, s.error());
	});
}

int qemu_dm_destroy(uint32_t domid, unsigned timeout_sec, char **error)
{
	return guarded(error, [&] {
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error().wrap(fmt::format("domain {}", domid)));
		auto s = ctl->destroy(domid, std::chrono::seconds(timeout_sec ? timeout_sec : 30));
		return s ? 0 : fail(error, s.error());
	});
}

int qemu_dm_cdrom_change(uint32_t domid, const char *drive, const char *path, unsigned timeout_sec, char **error)
{
	if (!drive)
		return -EINVAL;
	return guarded(error, [&] {
		CdromChange change;
		change.domid = domid;
		change.device = drive;
		if (path)
			change.path = std::string(path);
		if (timeout_sec)
			change.limits.timeout = std::chrono::seconds(timeout_sec);
		auto s = changeCdrom(change);
		return s ? 0 : fail(error, s.error());
	});
}

int qemu_dm_kill(uint32_t domid, int signo, char **error)
{
	return guarded(error, [&] {
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error().wrap(fmt::format("domain {}", domid)));
		auto s = ctl->kill(domid, signo);
		return s ? 0 : fail(error, s.error());
	});
}

int qemu_dm_get_status(uint32_t domid, qemu_dm_status *status, char **error)
{
	if (!status)
		return -EINVAL;
	return guarded(error, [&] {
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error().wrap(fmt::format("domain {}", domid)));
		auto st = ctl->status(domid);
		if (!st)
			return fail(error, st.error());
		std::memset(status, 0, sizeof(*status));
		std::snprintf(status->active_state, sizeof(status->active_state), "%s", st->activeState.c_str());
		std::snprintf(status->sub_state, sizeof(status->sub_state), "%s", st->subState.c_str());
		status->main_pid = st->mainPid;
		status->uid = st->uid;
		return 0;
	});
}

int qemu_dm_list(uint32_t **domids, size_t *count, char **error)
{
	if (!domids || !count)
		return -EINVAL;
	return guarded(error, [&] {
		auto ctl = DmController::open();
		if (!ctl)
			return fail(error, ctl.error());
		auto l = ctl->list();
		if (!l)
			return fail(error, l.error());
		auto *out = static_cast<uint32_t *>(std::calloc(l->empty() ? 1 : l->size(), sizeof(uint32_t)));
		if (!out)
			return -ENOMEM;
		for (size_t i = 0; i < l->size(); i++)
			out[i] = (*l)[i].domid;
		*domids = out;
		*count = l->size();
		return 0;
	});
}

void qemu_dm_free(void *p)
{
	std::free(p);
}

} /* extern "C" */

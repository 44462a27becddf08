/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-userdb: the io.systemd.UserDatabase varlink service that makes
 * every Xen device-model uid (range base + domid) resolve as
 * xen-qemuuser-<domid> through nss-systemd. See docs/userdb.md.
 *
 * Socket-activated (Accept=no): one process serves every connection from
 * the listening socket systemd passes (LISTEN_FDS), with sd-event. Requests
 * are NUL-terminated JSON; the logic lives in userdb_service.cpp.
 *
 * Robustness: requests are capped at 64 KiB (larger ones get a
 * ProtocolError, then the stream resynchronises at the next NUL), replies
 * are buffered with back-pressure (a client that does not read stops being
 * read). Local users must not be able to stall lookups (nss-systemd asks us
 * for every user lookup on the host):
 *  - each request has a deadline for its whole time, from accept (or the
 *    previous reply) until its reply is sent; sending a byte now and then
 *    does not extend it;
 *  - connections are counted per peer uid (SO_PEERCRED); one over the
 *    per-uid limit, or over the limit of all unprivileged peers together, is
 *    closed at once instead of waiting in the listen backlog;
 *  - root (PID 1's children resolving User= of a DM, the generator, libxl)
 *    has its own connection pool that unprivileged peers cannot fill.
 * The listening socket is never disabled while any pool has room.
 */

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "build_config.h"
#include "c_ptr.h"
#include "config.h"
#include "domain.h"
#include "log.h"
#include "parse_util.h"
#include "result.h"
#include "unique_fd.h"
#include "userdb_accounts.h"
#include "userdb_service.h"

using namespace qemudm;

namespace {

using EventPtr = CPtr<sd_event, sd_event_unref>;
using SourcePtr = CPtr<sd_event_source, sd_event_source_disable_unref>;

constexpr size_t kReadChunk = 16 * 1024;
/* Stop reading requests (and generating stream replies) above this much
 * unsent output: a client that does not read cannot make us buffer. */
constexpr size_t kOutputHighWater = 64 * 1024;
/* Connections of all unprivileged peers together, and of root (uid 0). */
constexpr size_t kMaxConnections = 256;
/*
 * Root's pool: every DM start looks up its uid (the C API's uid policy) and
 * its unit's User= (PID 1's child) at about the same instant, so a burst of
 * N starts can be up to 2N root connections at once (200 DMs: 400; 128
 * would close some). Bounded by LimitNOFILE=1024 of the unit:
 * 256 + 640 + the daemon's own few.
 */
constexpr size_t kMaxRootConnections = 640;
constexpr size_t kDefaultMaxConnectionsPerUid = 16;

struct Options {
	std::string listenPath;
	std::string rangeBaseUser;
	std::string passwdFile;
	std::string groupFile;
	std::string unitDir = std::string(kTransientUnitDir);
	bool fileAccounts = false;
	bool enumerate = false;
	/* The whole time of one request: accept (or the previous reply) until its reply is sent. */
	uint64_t requestTimeoutUsec = 5 * 1000000ULL;
	size_t maxConnectionsPerUid = kDefaultMaxConnectionsPerUid;
	uint64_t exitOnIdleUsec = 0;
};

class Server;

class Connection
{
public:
	Connection(Server &server, UniqueFd fd, uid_t uid) : server_(server), fd_(std::move(fd)), uid_(uid) {}

	Status start(sd_event *event);
	uid_t uid() const { return uid_; }

private:
	static int onIo(sd_event_source *s, int fd, uint32_t revents, void *userdata);
	static int onTimeout(sd_event_source *s, uint64_t usec, void *userdata);

	void handleIo(uint32_t revents);
	bool readInput();
	bool writeOutput();
	void processInput();
	void queue(std::string message);
	size_t pendingOutput() const { return out_.size() - outPos_; }
	void updateEvents();
	void armDeadline();
	void close();

	Server &server_;
	UniqueFd fd_;
	uid_t uid_;
	SourcePtr io_;
	SourcePtr timer_;
	std::string in_;
	std::string out_;
	size_t outPos_ = 0;
	std::unique_ptr<userdb::ReplyStream> stream_;
	bool discarding_ = false; /* skipping an oversized message up to its NUL */
	bool readClosed_ = false;
};

class Server
{
public:
	Server(const Options &options, userdb::Service &service) : options_(options), service_(service) {}

	Status run(UniqueFd listenFd);

	userdb::Service &service() { return service_; }
	const Options &options() const { return options_; }
	void remove(Connection *c);

private:
	static int onAccept(sd_event_source *s, int fd, uint32_t revents, void *userdata);
	static int onSignal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata);
	static int onIdle(sd_event_source *s, uint64_t usec, void *userdata);

	void acceptAll();
	bool admit(uid_t uid) const;
	void updateIdle();

	const Options &options_;
	userdb::Service &service_;
	EventPtr event_;
	UniqueFd listenFd_;
	SourcePtr listener_;
	SourcePtr idle_;
	std::list<std::unique_ptr<Connection>> connections_;
	std::list<std::unique_ptr<Connection>> closed_;
	/* Open connections per peer uid, and of all unprivileged peers together. */
	std::map<uid_t, size_t> perUid_;
	size_t unprivileged_ = 0;
};

Status Connection::start(sd_event *event)
{
	sd_event_source *s = nullptr;
	int r = sd_event_add_io(event, &s, fd_.get(), EPOLLIN, onIo, this);
	if (r < 0)
		return errnoError(r, "Failed to watch connection");
	io_.reset(s);

	r = sd_event_add_time_relative(event, &s, CLOCK_MONOTONIC, server_.options().requestTimeoutUsec, 0, onTimeout,
				       this);
	if (r < 0)
		return errnoError(r, "Failed to add connection timer");
	timer_.reset(s);
	return success();
}

int Connection::onIo(sd_event_source *, int, uint32_t revents, void *userdata)
{
	auto *c = static_cast<Connection *>(userdata);
	try {
		c->handleIo(revents);
	} catch (const std::bad_alloc &) {
		log::debug("Out of memory on a connection, closing it.");
		c->close();
	}
	return 0;
}

int Connection::onTimeout(sd_event_source *, uint64_t, void *userdata)
{
	auto *c = static_cast<Connection *>(userdata);
	log::debug("Request of uid {} not answered within its deadline, closing the connection.", c->uid_);
	c->close();
	return 0;
}

/* A new request may begin: it gets the whole deadline, once. */
void Connection::armDeadline()
{
	if (timer_)
		(void)sd_event_source_set_time_relative(timer_.get(), server_.options().requestTimeoutUsec);
}

void Connection::queue(std::string message)
{
	if (outPos_ > 0 && outPos_ == out_.size()) {
		out_.clear();
		outPos_ = 0;
	}
	out_ += message;
	out_.push_back('\0');
}

/* Returns false when the connection must close. */
bool Connection::readInput()
{
	char buf[kReadChunk];
	ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		readClosed_ = true;
		return true;
	}

	std::string_view chunk(buf, static_cast<size_t>(n));
	if (discarding_) {
		auto nul = chunk.find('\0');
		if (nul == std::string_view::npos)
			return true;
		chunk.remove_prefix(nul + 1);
		discarding_ = false;
	}
	in_.append(chunk);
	return true;
}

bool Connection::writeOutput()
{
	while (pendingOutput() > 0) {
		ssize_t n = ::send(fd_.get(), out_.data() + outPos_, pendingOutput(), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN;
		}
		outPos_ += static_cast<size_t>(n);
	}
	out_.clear();
	outPos_ = 0;
	/* Every reply sent and nothing of the next request read yet: the next one starts now. */
	if (!stream_ && in_.empty() && !discarding_)
		armDeadline();
	return true;
}

void Connection::processInput()
{
	for (;;) {
		while (stream_ && pendingOutput() < kOutputHighWater) {
			auto m = stream_->next();
			if (!m) {
				stream_.reset();
				break;
			}
			queue(std::move(*m));
		}
		if (stream_ || pendingOutput() >= kOutputHighWater)
			return;

		auto nul = in_.find('\0');
		if (nul == std::string::npos) {
			if (in_.size() > userdb::kMaxMessageSize) {
				queue(userdb::Service::protocolErrorReply("message too large"));
				in_.clear();
				discarding_ = true;
			}
			return;
		}

		userdb::Response r = server_.service().handleMessage(std::string_view(in_.data(), nul));
		in_.erase(0, nul + 1);
		for (auto &m : r.replies)
			queue(std::move(m));
		stream_ = std::move(r.stream);
	}
}

void Connection::updateEvents()
{
	uint32_t events = 0;
	if (!readClosed_ && !stream_ && pendingOutput() < kOutputHighWater)
		events |= EPOLLIN;
	if (pendingOutput() > 0 || stream_)
		events |= EPOLLOUT;
	(void)sd_event_source_set_io_events(io_.get(), events);
}

void Connection::handleIo(uint32_t revents)
{
	if (revents & EPOLLIN) {
		if (!readInput())
			return close();
	}
	processInput();
	if (!writeOutput())
		return close();
	/* Writing may have made room for more stream replies. */
	processInput();
	if (!writeOutput())
		return close();

	if (readClosed_ && pendingOutput() == 0 && !stream_)
		return close();
	if ((revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN))
		return close();
	updateEvents();
}

void Connection::close()
{
	io_.reset();
	timer_.reset();
	fd_.reset();
	server_.remove(this);
}

void Server::remove(Connection *c)
{
	for (auto it = connections_.begin(); it != connections_.end(); ++it) {
		if (it->get() == c) {
			uid_t uid = c->uid();
			if (auto n = perUid_.find(uid); n != perUid_.end() && --n->second == 0)
				perUid_.erase(n);
			if (uid != 0)
				unprivileged_--;
			/* Freed after this dispatch: we may be inside its callback. */
			closed_.splice(closed_.end(), connections_, it);
			break;
		}
	}
	updateIdle();
}

/* Whether a new connection of this peer uid fits its pools. */
bool Server::admit(uid_t uid) const
{
	auto it = perUid_.find(uid);
	size_t mine = it == perUid_.end() ? 0 : it->second;
	if (uid == 0)
		return mine < kMaxRootConnections;
	return mine < options_.maxConnectionsPerUid && unprivileged_ < kMaxConnections;
}

void Server::acceptAll()
{
	closed_.clear();
	/* Accept everything pending: a connection over its limit is closed at
	 * once, so the backlog never holds a root lookup behind an attacker's. */
	for (;;) {
		UniqueFd fd(accept4(listenFd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log::debug("Failed to accept connection: {}", std::strerror(errno));
			break;
		}
		struct ucred cred = {};
		socklen_t len = sizeof(cred);
		if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
			log::debug("Failed to get the peer's credentials: {}, closing the connection.",
				   std::strerror(errno));
			continue;
		}
		if (!admit(cred.uid)) {
			log::debug("Too many connections of uid {}, closing the new one.", cred.uid);
			continue;
		}
		auto c = std::make_unique<Connection>(*this, std::move(fd), cred.uid);
		auto r = c->start(event_.get());
		if (!r) {
			log::debug("{}", r.error().message());
			continue;
		}
		connections_.push_back(std::move(c));
		perUid_[cred.uid]++;
		if (cred.uid != 0)
			unprivileged_++;
	}
	updateIdle();
}

void Server::updateIdle()
{
	if (!idle_)
		return;
	if (connections_.empty()) {
		(void)sd_event_source_set_time_relative(idle_.get(), options_.exitOnIdleUsec);
		(void)sd_event_source_set_enabled(idle_.get(), SD_EVENT_ONESHOT);
	} else {
		(void)sd_event_source_set_enabled(idle_.get(), SD_EVENT_OFF);
	}
}

int Server::onAccept(sd_event_source *, int, uint32_t, void *userdata)
{
	auto *s = static_cast<Server *>(userdata);
	try {
		s->acceptAll();
	} catch (const std::bad_alloc &) {
		log::debug("Out of memory while accepting, retrying later.");
	}
	return 0;
}

int Server::onSignal(sd_event_source *s, const struct signalfd_siginfo *, void *)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Whether any device model unit is loaded: then its user may be looked up at any time. */
bool anyDmUnitLoaded(const std::string &dir)
{
	CPtr<DIR, closedir> d(::opendir(dir.c_str()));
	if (!d)
		return false;
	while (struct dirent *e = ::readdir(d.get()))
		if (auto domid = domidFromUnitName(e->d_name); domid && dmUnitLoaded(*domid, dir))
			return true;
	return false;
}

int Server::onIdle(sd_event_source *s, uint64_t, void *userdata)
{
	auto *server = static_cast<Server *>(userdata);
	/*
	 * Stay while a DM runs: a restart by socket activation costs the next
	 * lookup tens of milliseconds (the sandbox, the exec), and while a DM
	 * runs its user is looked up (ps, systemctl status, the journal).
	 */
	if (anyDmUnitLoaded(server->options_.unitDir)) {
		server->updateIdle();
		return 0;
	}
	log::debug("Idle, exiting; systemd restarts us on the next connection.");
	(void)sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

Status Server::run(UniqueFd listenFd)
{
	listenFd_ = std::move(listenFd);

	sd_event *e = nullptr;
	int r = sd_event_default(&e);
	if (r < 0)
		return errnoError(r, "Failed to allocate event loop");
	event_.reset(e);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0)
		return errnoError(errno, "Failed to block signals");
	for (int sig : { SIGTERM, SIGINT }) {
		r = sd_event_add_signal(event_.get(), nullptr, sig, onSignal, this);
		if (r < 0)
			return errnoError(r, "Failed to watch signal {}", sig);
	}

	sd_event_source *s = nullptr;
	r = sd_event_add_io(event_.get(), &s, listenFd_.get(), EPOLLIN, onAccept, this);
	if (r < 0)
		return errnoError(r, "Failed to watch the listening socket");
	listener_.reset(s);

	if (options_.exitOnIdleUsec > 0) {
		r = sd_event_add_time_relative(event_.get(), &s, CLOCK_MONOTONIC, options_.exitOnIdleUsec, 0, onIdle,
					       this);
		if (r < 0)
			return errnoError(r, "Failed to add idle timer");
		idle_.reset(s);
	}

	(void)sd_event_set_watchdog(event_.get(), true);
	(void)sd_notify(0, "READY=1\nSTATUS=Serving Xen device-model users.");

	r = sd_event_loop(event_.get());
	connections_.clear();
	closed_.clear();
	if (r < 0)
		return errnoError(r, "Failed to run event loop");
	return success();
}

Result<UniqueFd> listenOn(const std::string &path)
{
	struct sockaddr_un sa = {};
	sa.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(sa.sun_path))
		return makeError(EINVAL, "Socket path '{}' is empty or too long", path);
	std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);

	UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!fd)
		return errnoError(errno, "Failed to create socket");
	(void)unlink(path.c_str());
	if (bind(fd.get(), reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) < 0)
		return errnoError(errno, "Failed to bind {}", path);
	if (listen(fd.get(), SOMAXCONN) < 0)
		return errnoError(errno, "Failed to listen on {}", path);
	return fd;
}

Result<UniqueFd> socketFromSystemd()
{
	int n = sd_listen_fds(1);
	if (n < 0)
		return errnoError(n, "Failed to get sockets from systemd");
	if (n != 1)
		return makeError(EINVAL,
				 "Expected exactly one socket from systemd (LISTEN_FDS), got {}; "
				 "use --listen PATH to run without socket activation",
				 n);
	int fd = SD_LISTEN_FDS_START;
	int r = sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0);
	if (r < 0)
		return errnoError(r, "Failed to check the passed socket");
	if (r == 0)
		return makeError(EINVAL, "The passed socket is not a listening AF_UNIX stream socket");
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return errnoError(errno, "Failed to make the passed socket non-blocking");
	return UniqueFd(fd);
}

/* A time span as in unit files (parse_util.h; a bare number is seconds), at most a year. */
bool parseSeconds(const char *s, uint64_t &usec)
{
	auto v = parseTimespan(s);
	if (!v || *v > 86400ULL * 365 * kUSecPerSec)
		return false;
	usec = *v;
	return true;
}

void help()
{
	fmt::print("qemu-dm-userdb [OPTIONS]\n\n"
		   "Serve io.systemd.UserDatabase for Xen device-model users as "
		   "{}.\n\n"
		   "  -h --help                   Show this help\n"
		   "  -v --verbose                Log debug messages\n"
		   "     --range-base-user=NAME   Range base user (default: from configuration)\n"
		   "     --enumerate              Answer enumeration requests with the whole range\n"
		   "     --request-timeout=SEC    Close a connection whose request is not answered SEC after\n"
		   "                              accept or the previous reply (default 5)\n"
		   "     --max-connections-per-uid=N  Connections one unprivileged uid may hold (default {})\n"
		   "     --exit-on-idle=SEC       Exit when no connection for this long and no DM unit is\n"
		   "                              loaded (default: never)\n"
		   "Test options:\n"
		   "     --listen=PATH            Bind PATH instead of using the socket from systemd\n"
		   "     --passwd-file=PATH       Read other users from PATH instead of NSS\n"
		   "     --group-file=PATH        Read other groups from PATH instead of NSS\n"
		   "     --unit-dir=DIR           Look for loaded DM units in DIR (default {})\n",
		   QEMU_DM_USERDB_SERVICE, kDefaultMaxConnectionsPerUid, kTransientUnitDir);
}

/* 1: continue, 0: exit successfully, <0: usage error. */
int parseArgs(int argc, char **argv, Options &o)
{
	enum {
		ARG_RANGE_BASE = 0x100,
		ARG_ENUMERATE,
		ARG_REQUEST_TIMEOUT,
		ARG_MAX_PER_UID,
		ARG_EXIT_IDLE,
		ARG_LISTEN,
		ARG_PASSWD,
		ARG_GROUP,
		ARG_UNIT_DIR
	};
	static const struct option longopts[] = {
		{ "help", no_argument, nullptr, 'h' },
		{ "verbose", no_argument, nullptr, 'v' },
		{ "range-base-user", required_argument, nullptr, ARG_RANGE_BASE },
		{ "enumerate", no_argument, nullptr, ARG_ENUMERATE },
		{ "request-timeout", required_argument, nullptr, ARG_REQUEST_TIMEOUT },
		{ "max-connections-per-uid", required_argument, nullptr, ARG_MAX_PER_UID },
		{ "exit-on-idle", required_argument, nullptr, ARG_EXIT_IDLE },
		{ "listen", required_argument, nullptr, ARG_LISTEN },
		{ "passwd-file", required_argument, nullptr, ARG_PASSWD },
		{ "group-file", required_argument, nullptr, ARG_GROUP },
		{ "unit-dir", required_argument, nullptr, ARG_UNIT_DIR },
		{},
	};

	int c;
	while ((c = getopt_long(argc, argv, "hv", longopts, nullptr)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case 'v':
			log::setLevel(log::Level::Debug);
			break;
		case ARG_RANGE_BASE:
			o.rangeBaseUser = optarg;
			break;
		case ARG_ENUMERATE:
			o.enumerate = true;
			break;
		case ARG_REQUEST_TIMEOUT:
			if (!parseSeconds(optarg, o.requestTimeoutUsec) || o.requestTimeoutUsec == 0) {
				log::error("Invalid --request-timeout= value: {}", optarg);
				return -EINVAL;
			}
			break;
		case ARG_MAX_PER_UID: {
			auto n = parseInteger<uint64_t>(optarg);
			if (!n || *n == 0 || *n > kMaxConnections) {
				log::error("Invalid --max-connections-per-uid= value: {}", optarg);
				return -EINVAL;
			}
			o.maxConnectionsPerUid = *n;
			break;
		}
		case ARG_EXIT_IDLE:
			if (!parseSeconds(optarg, o.exitOnIdleUsec)) {
				log::error("Invalid --exit-on-idle= value: {}", optarg);
				return -EINVAL;
			}
			break;
		case ARG_LISTEN:
			o.listenPath = optarg;
			break;
		case ARG_PASSWD:
			o.passwdFile = optarg;
			o.fileAccounts = true;
			break;
		case ARG_GROUP:
			o.groupFile = optarg;
			o.fileAccounts = true;
			break;
		case ARG_UNIT_DIR:
			if (optarg[0] != '/') {
				log::error("--unit-dir= needs an absolute path: {}", optarg);
				return -EINVAL;
			}
			o.unitDir = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log::error("Unexpected argument: {}", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/*
 * The range base user's name: --range-base-user, else the configuration's
 * range base user, else the upstream default.
 */
std::string rangeBaseUser(const Options &o)
{
	if (!o.rangeBaseUser.empty())
		return o.rangeBaseUser;
	auto config = loadDefaultConfig();
	if (!config) {
		/* Fail closed like the generator: with a broken config no DM starts, and we answer for no one. */
		log::error("Failed to load the qemu-dm configuration, serving no users: {}", config.error().message());
		return {};
	}
	return config->rangeBaseUser;
}

/*
 * Never recurse into ourselves: nss-systemd (userdb.c) skips every service
 * listed in SYSTEMD_BYPASS_USERDB (colon-separated), and the multiplexer
 * too, which would forward to us.
 */
void bypassOurselves()
{
	std::string v = fmt::format("{}:io.systemd.Multiplexer", QEMU_DM_USERDB_SERVICE);
	const char *old = getenv("SYSTEMD_BYPASS_USERDB");
	if (old && *old) {
		if (std::string_view(old).find(QEMU_DM_USERDB_SERVICE) != std::string_view::npos)
			return; /* the unit's Environment= already says so */
		v = fmt::format("{}:{}", old, v);
	}
	(void)setenv("SYSTEMD_BYPASS_USERDB", v.c_str(), 1);
}

int run(int argc, char **argv)
{
	log::setup("qemu-dm-userdb");
	bypassOurselves();

	Options options;
	int r = parseArgs(argc, argv, options);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

	std::unique_ptr<userdb::Accounts> accounts;
	if (options.fileAccounts)
		accounts = std::make_unique<userdb::FileAccounts>(options.passwdFile, options.groupFile);
	else
		accounts = std::make_unique<userdb::NssAccounts>();

	userdb::ServiceOptions so;
	so.serviceName = QEMU_DM_USERDB_SERVICE;
	so.rangeBaseUser = rangeBaseUser(options);
	so.enumerate = options.enumerate;
	so.dmUnitLoaded = [dir = options.unitDir](uint32_t domid) { return dmUnitLoaded(domid, dir); };
	userdb::Service service(so, *accounts);

	auto fd = options.listenPath.empty() ? socketFromSystemd() : listenOn(options.listenPath);
	if (!fd) {
		log::error(fd.error());
		return EXIT_FAILURE;
	}

	log::debug("Serving {} for range base user {}.", so.serviceName, so.rangeBaseUser);
	Server server(options, service);
	auto s = server.run(std::move(*fd));
	if (!s) {
		log::error(s.error());
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

} /* namespace */

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		log::error("Failed: {}", e.what());
		return EXIT_FAILURE;
	}
}

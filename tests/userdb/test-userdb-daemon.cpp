/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The real qemu-dm-userdb binary over real AF_UNIX sockets: socket
 * activation (LISTEN_FDS), the fuzz corpus replay, framing abuse, idle
 * timeouts, and a soak test watching the daemon's fd count and RSS.
 * Other users come from --passwd-file/--group-file, so nothing depends on
 * the host's user database and no root is needed.
 */

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "build_config.h"
#include "json.h"
#include "test_util.h"
#include "unique_fd.h"

using namespace qemudm;
using json::Value;
using qemudm::test::TempDir;

namespace {

constexpr const char *kService = QEMU_DM_USERDB_SERVICE;

std::string binary()
{
	const char *p = getenv("QEMU_DM_USERDB_BIN");
	return p ? p : "";
}

std::string lookupUid(uint32_t uid)
{
	return fmt::format(
	    R"({{"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{{"uid":{},"service":"{}"}}}})", uid,
	    kService);
}

std::string lookupName(const std::string &name)
{
	return fmt::format(
	    R"({{"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{{"userName":"{}","service":"{}"}}}})",
	    name, kService);
}

bool sendAll(int fd, std::string_view data)
{
	while (!data.empty()) {
		ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		data.remove_prefix(static_cast<size_t>(n));
	}
	return true;
}

/* One NUL-terminated reply; std::nullopt on EOF or timeout. */
std::optional<std::string> readReply(int fd, std::string &buffer, int timeoutMs = 5000)
{
	for (;;) {
		auto nul = buffer.find('\0');
		if (nul != std::string::npos) {
			std::string msg = buffer.substr(0, nul);
			buffer.erase(0, nul + 1);
			return msg;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, timeoutMs) <= 0)
			return std::nullopt;
		char buf[65536];
		ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return std::nullopt;
		buffer.append(buf, static_cast<size_t>(n));
	}
}

std::string errorOf(const std::string &reply)
{
	auto v = json::parse(reply);
	if (!v || !v->isObject())
		return "<unparseable reply>";
	const Value *e = v->find("error");
	return e && e->asString() ? *e->asString() : "";
}

std::string userNameOf(const std::string &reply)
{
	auto v = json::parse(reply);
	if (!v || !v->isObject() || !v->find("parameters"))
		return "";
	const Value *rec = v->find("parameters")->find("record");
	if (!rec || !rec->find("userName"))
		return "";
	return *rec->find("userName")->asString();
}

/* The daemon under test, started with --listen or with a passed socket. */
class Daemon
{
public:
	explicit Daemon(std::string dir) : dir_(std::move(dir))
	{
		std::ofstream(dir_ + "/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
						   "xen-qemuuser-range-base:x:131072:131000::/:/usr/sbin/nologin\n"
						   "squatter:x:131079:100::/:/bin/sh\n";
		std::ofstream(dir_ + "/group") << "root:x:0:\nxen-qemuuser-range-base:x:131000:\n";
		/* Loaded DM units: domains 1..1000 and 32751 (the lookups below). */
		units_ = dir_ + "/units";
		(void)mkdir(units_.c_str(), 0755);
		for (uint32_t d = 1; d <= 1000; d++)
			setUnitLoaded(d, true);
		setUnitLoaded(32751, true);
		socket_ = dir_ + "/" + kService;
	}
	~Daemon() { stop(); }

	void setUnitLoaded(uint32_t domid, bool loaded)
	{
		std::string path = fmt::format("{}/qemu-dm@{}.service", units_, domid);
		if (loaded)
			std::ofstream(path) << "[Service]\n";
		else
			(void)unlink(path.c_str());
	}

	/* mode "listen": --listen PATH; mode "activation": LISTEN_FDS=1 on fd 3. */
	bool start(const std::vector<std::string> &extra = {}, bool activation = false)
	{
		std::vector<std::string> args = { binary(),	  "--passwd-file", dir_ + "/passwd",
						  "--group-file", dir_ + "/group", "--unit-dir",
						  units_ };
		UniqueFd listenFd;
		if (activation) {
			listenFd = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
			struct sockaddr_un sa = {};
			sa.sun_family = AF_UNIX;
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_.c_str());
			if (bind(listenFd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
			    listen(listenFd.get(), 64) < 0)
				return false;
		} else {
			args.push_back("--listen");
			args.push_back(socket_);
		}
		args.insert(args.end(), extra.begin(), extra.end());

		pid_ = fork();
		if (pid_ < 0)
			return false;
		if (pid_ == 0) {
			if (activation) {
				/* dup2() onto itself would keep O_CLOEXEC */
				if (listenFd.get() == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(listenFd.get(), 3) < 0)
					_exit(126);
				setenv("LISTEN_FDS", "1", 1);
				setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
			}
			std::vector<char *> argv;
			for (auto &a : args)
				argv.push_back(a.data());
			argv.push_back(nullptr);
			execv(argv[0], argv.data());
			_exit(127);
		}
		listenFd.reset(); /* only the daemon holds the socket now */

		/* Wait until it answers. */
		for (int i = 0; i < 200 && alive(); i++) {
			UniqueFd fd = connect();
			if (fd) {
				std::string buf;
				if (sendAll(fd.get(), lookupUid(131073) + '\0') && readReply(fd.get(), buf, 1000))
					return true;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		return false;
	}

	void stop()
	{
		if (pid_ <= 0)
			return;
		(void)kill(pid_, SIGTERM);
		int status;
		(void)waitpid(pid_, &status, 0);
		pid_ = -1;
	}

	/* Reaps the daemon if it has exited (then never signals its pid again). */
	bool alive()
	{
		int status;
		if (pid_ <= 0)
			return false;
		if (waitpid(pid_, &status, WNOHANG) == 0)
			return true;
		pid_ = -1;
		return false;
	}

	UniqueFd connect() const
	{
		UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		struct sockaddr_un sa = {};
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_.c_str());
		if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
			return UniqueFd();
		return fd;
	}

	/* One request on a fresh connection, like nss-systemd does. */
	std::optional<std::string> call(const std::string &request)
	{
		UniqueFd fd = connect();
		if (!fd)
			return std::nullopt;
		std::string buf;
		if (!sendAll(fd.get(), request + '\0'))
			return std::nullopt;
		return readReply(fd.get(), buf);
	}

	size_t fdCount() const
	{
		size_t n = 0;
		DIR *d = opendir(fmt::format("/proc/{}/fd", pid_).c_str());
		if (!d)
			return 0;
		while (struct dirent *e = readdir(d))
			n += e->d_name[0] != '.';
		closedir(d);
		return n;
	}

	/* The fd count once closed connections are reaped: the smallest of a
	 * second's samples (the daemon sees a client's close asynchronously). */
	size_t settledFdCount() const
	{
		size_t best = fdCount();
		for (int i = 0; i < 50 && best > 0; i++) {
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
			best = std::min(best, fdCount());
		}
		return best;
	}

	/* VmRSS in KiB. */
	long rssKiB() const
	{
		std::string rss =
		    test::procStatusField(test::slurp(fmt::format("/proc/{}/status", pid_)), "VmRSS"); /* "1234 kB" */
		return rss.empty() ? -1 : std::strtol(rss.c_str(), nullptr, 10);
	}

private:
	std::string dir_;
	std::string units_;
	std::string socket_;
	pid_t pid_ = -1;
};

class UserdbDaemon : public ::testing::Test
{
protected:
	void SetUp() override
	{
		if (binary().empty())
			GTEST_SKIP() << "QEMU_DM_USERDB_BIN not set";
		daemon_ = std::make_unique<Daemon>(dir_.str());
	}

	TempDir dir_;
	std::unique_ptr<Daemon> daemon_;
};

} /* namespace */

TEST_F(UserdbDaemon, AnswersThroughSocketActivation)
{
	ASSERT_TRUE(daemon_->start({}, true));
	auto r = daemon_->call(lookupUid(131077));
	ASSERT_TRUE(r);
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-5");
	r = daemon_->call(lookupName("xen-qemuuser-32751"));
	ASSERT_TRUE(r);
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-32751");
	/* uid 131079 belongs to "squatter" in the passwd file */
	r = daemon_->call(lookupUid(131079));
	ASSERT_TRUE(r);
	EXPECT_EQ(errorOf(*r), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbDaemon, AnswersOnlyWhileTheDomainsUnitIsLoaded)
{
	ASSERT_TRUE(daemon_->start());
	for (const auto &req : { lookupUid(131072 + 2000), lookupName("xen-qemuuser-2000") }) {
		auto r = daemon_->call(req);
		ASSERT_TRUE(r);
		EXPECT_EQ(errorOf(*r), "io.systemd.UserDatabase.NoRecordFound") << "before start: " << *r;
		daemon_->setUnitLoaded(2000, true);
		r = daemon_->call(req);
		ASSERT_TRUE(r);
		EXPECT_EQ(userNameOf(*r), "xen-qemuuser-2000") << "while loaded: " << *r;
		daemon_->setUnitLoaded(2000, false);
		r = daemon_->call(req);
		ASSERT_TRUE(r);
		EXPECT_EQ(errorOf(*r), "io.systemd.UserDatabase.NoRecordFound") << "after stop: " << *r;
	}
}

TEST_F(UserdbDaemon, RefusesToStartWithoutASocket)
{
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		unsetenv("LISTEN_FDS");
		execl(binary().c_str(), binary().c_str(), static_cast<char *>(nullptr));
		_exit(127);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), EXIT_FAILURE);
}

TEST_F(UserdbDaemon, ReplaysTheFuzzCorpusAndKeepsServing)
{
	const char *dir = getenv("USERDB_CORPUS");
	if (!dir)
		GTEST_SKIP() << "USERDB_CORPUS not set";
	ASSERT_TRUE(daemon_->start());

	std::vector<std::string> files;
	DIR *d = opendir(dir);
	ASSERT_NE(d, nullptr);
	while (struct dirent *e = readdir(d)) {
		if (e->d_name[0] != '.')
			files.push_back(std::string(dir) + "/" + e->d_name);
	}
	closedir(d);
	std::sort(files.begin(), files.end());
	ASSERT_GE(files.size(), 40u);

	UniqueFd shared = daemon_->connect();
	std::string sharedBuf;
	for (const auto &file : files) {
		std::string request = test::slurp(file);
		ASSERT_EQ(request.find('\0'), std::string::npos) << file << ": corpus entries hold one message";

		/* On its own connection ... */
		auto r = daemon_->call(request);
		ASSERT_TRUE(r) << file << ": no reply";
		EXPECT_NE(errorOf(*r), "") << file << ": expected a varlink error, got " << *r;

		/* ... and pipelined on one long-lived connection, followed by a good call. */
		ASSERT_TRUE(sendAll(shared.get(), request + '\0' + lookupUid(131074) + '\0')) << file;
		auto bad = readReply(shared.get(), sharedBuf);
		ASSERT_TRUE(bad) << file;
		EXPECT_EQ(errorOf(*bad), errorOf(*r)) << file;
		auto good = readReply(shared.get(), sharedBuf);
		ASSERT_TRUE(good) << file << ": connection died";
		EXPECT_EQ(userNameOf(*good), "xen-qemuuser-2") << file;
	}
	EXPECT_TRUE(daemon_->alive());
}

TEST_F(UserdbDaemon, ResynchronisesAfterAnOversizedMessage)
{
	ASSERT_TRUE(daemon_->start());
	UniqueFd fd = daemon_->connect();
	std::string buf;
	/* 1 MiB without a NUL, then the terminator and a good request */
	std::string junk(1 << 20, 'x');
	std::thread writer([&] { sendAll(fd.get(), junk + '\0' + lookupUid(131075) + '\0'); });
	auto r = readReply(fd.get(), buf);
	ASSERT_TRUE(r);
	EXPECT_EQ(errorOf(*r), "org.xenproject.QemuDm.ProtocolError");
	r = readReply(fd.get(), buf);
	writer.join();
	ASSERT_TRUE(r);
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-3");
}

TEST_F(UserdbDaemon, AnswersEveryPipelinedRequestInOrder)
{
	ASSERT_TRUE(daemon_->start());
	UniqueFd fd = daemon_->connect();
	std::string batch;
	for (uint32_t d = 1; d <= 500; d++)
		batch += lookupUid(131072 + d) + '\0';
	std::thread writer([&] { sendAll(fd.get(), batch); });
	std::string buf;
	for (uint32_t d = 1; d <= 500; d++) {
		auto r = readReply(fd.get(), buf);
		ASSERT_TRUE(r) << d;
		if (d == 7)
			EXPECT_EQ(errorOf(*r), "io.systemd.UserDatabase.NoRecordFound");
		else
			EXPECT_EQ(userNameOf(*r), fmt::format("xen-qemuuser-{}", d));
	}
	writer.join();
}

TEST_F(UserdbDaemon, StreamsEnumerationWithBackPressure)
{
	/* Every domain's DM unit loaded: 32751 candidates. */
	for (uint32_t d = 1001; d < 32751; d++)
		daemon_->setUnitLoaded(d, true);
	ASSERT_TRUE(daemon_->start({ "--enumerate" }));
	UniqueFd fd = daemon_->connect();
	std::string req = fmt::format(
	    R"({{"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{{"service":"{}"}},"more":true}})",
	    kService);
	ASSERT_TRUE(sendAll(fd.get(), req + '\0'));
	/* Don't read for a while: the daemon must not buffer 32751 records. */
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	std::string buf;
	size_t n = 0;
	bool sawLast = false;
	while (auto r = readReply(fd.get(), buf)) {
		n++;
		auto v = json::parse(*r);
		ASSERT_TRUE(v.ok());
		if (!v->find("continues")) {
			sawLast = true;
			break;
		}
	}
	EXPECT_TRUE(sawLast);
	EXPECT_EQ(n, 32750u); /* every domid but 7 */
	/* the connection still serves */
	ASSERT_TRUE(sendAll(fd.get(), lookupUid(131080) + '\0'));
	auto r = readReply(fd.get(), buf);
	ASSERT_TRUE(r);
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-8");
}

TEST_F(UserdbDaemon, ClosesIdleConnections)
{
	ASSERT_TRUE(daemon_->start({ "--request-timeout=1" }));
	UniqueFd fd = daemon_->connect();
	ASSERT_TRUE(sendAll(fd.get(), "{\"method\":")); /* half a message, then silence */
	auto start = std::chrono::steady_clock::now();
	std::string buf;
	EXPECT_FALSE(readReply(fd.get(), buf, 5000));
	auto elapsed = std::chrono::steady_clock::now() - start;
	EXPECT_LT(elapsed, std::chrono::seconds(4));
	EXPECT_TRUE(daemon_->call(lookupUid(131073)));
}

/*
 * Issue 10, class 7: the deadline covers a request's whole time. A client
 * that drips one byte at a time (never finishing its request) does not
 * extend it.
 */
TEST_F(UserdbDaemon, ADripFedRequestEndsAtItsDeadline)
{
	ASSERT_TRUE(daemon_->start({ "--request-timeout=1" }));
	UniqueFd fd = daemon_->connect();
	ASSERT_TRUE(fd);
	std::string request = lookupUid(131073);
	auto start = std::chrono::steady_clock::now();
	bool closed = false;
	for (size_t i = 0; i < request.size() && std::chrono::steady_clock::now() - start < std::chrono::seconds(6);
	     i++) {
		if (!sendAll(fd.get(), request.substr(i, 1))) {
			closed = true;
			break;
		}
		struct pollfd p = { fd.get(), POLLIN, 0 };
		char c;
		if (poll(&p, 1, 200) > 0 && ::recv(fd.get(), &c, 1, MSG_DONTWAIT) <= 0) {
			closed = true;
			break;
		}
	}
	auto elapsed = std::chrono::steady_clock::now() - start;
	EXPECT_TRUE(closed) << "a request sent one byte every 200 ms was never cut off";
	EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
	EXPECT_TRUE(daemon_->call(lookupUid(131073)));
}

namespace {

/*
 * In a child running as `uid`: open `count` connections to `socket`, start a
 * request on each and never finish it. Writes to `report` how many the
 * daemon closed within half a second, then holds the rest until killed.
 */
pid_t holdConnections(uid_t uid, const Daemon &daemon, size_t count, int report)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	std::vector<UniqueFd> fds;
	for (size_t i = 0; i < count; i++) {
		UniqueFd fd = daemon.connect();
		if (fd && sendAll(fd.get(), "{"))
			fds.push_back(std::move(fd));
	}
	std::this_thread::sleep_for(std::chrono::milliseconds(500));
	uint32_t closed = static_cast<uint32_t>(count - fds.size());
	for (auto &fd : fds) {
		char c;
		struct pollfd p = { fd.get(), POLLIN, 0 };
		if (poll(&p, 1, 0) > 0 && ::recv(fd.get(), &c, 1, MSG_DONTWAIT) <= 0)
			closed++;
	}
	if (::write(report, &closed, sizeof(closed)) != sizeof(closed))
		_exit(125);
	pause();
	_exit(0);
}

/* In a child running as `uid`: one lookup; exit 0 when it was answered. */
bool lookupAs(uid_t uid, Daemon &daemon)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(126);
		auto r = daemon.call(lookupUid(131077));
		_exit(r && userNameOf(*r) == "xen-qemuuser-5" ? 0 : 1);
	}
	int status = 0;
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} /* namespace */

/*
 * Issue 10, class 7: an unprivileged uid holding a few hundred unfinished
 * requests gets at most its per-uid share; root (PID 1's children resolving
 * a DM's User=) and other users are still answered at once.
 */
TEST_F(UserdbDaemon, AUidHoldingManyConnectionsStallsNoOne)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root to connect as other uids";
	ASSERT_TRUE(daemon_->start({ "--max-connections-per-uid=4", "--request-timeout=30" }));
	ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
	ASSERT_EQ(chmod((dir_.str() + "/" + kService).c_str(), 0666), 0);

	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	UniqueFd reportRead(p[0]), reportWrite(p[1]);
	pid_t attacker = holdConnections(65534, *daemon_, 300, reportWrite.get());
	ASSERT_GT(attacker, 0);
	reportWrite.reset();
	uint32_t closed = 0;
	bool reported = ::read(reportRead.get(), &closed, sizeof(closed)) == sizeof(closed);

	/* Root holds a few unfinished requests of its own too: its pool is not the attacker's. */
	std::vector<UniqueFd> mine;
	for (int i = 0; i < 8; i++) {
		mine.push_back(daemon_->connect());
		ASSERT_TRUE(mine.back() && sendAll(mine.back().get(), "{"));
	}
	auto start = std::chrono::steady_clock::now();
	auto r = daemon_->call(lookupUid(131077));
	auto elapsed = std::chrono::steady_clock::now() - start;
	bool other = lookupAs(65533, *daemon_);

	(void)kill(attacker, SIGKILL);
	(void)waitpid(attacker, nullptr, 0);

	ASSERT_TRUE(reported) << "the attacker did not report";
	EXPECT_GE(closed, 296u) << "the daemon let one uid hold more than 4 connections";
	ASSERT_TRUE(r) << "root's lookup was not answered while one uid held 300 connections";
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-5");
	EXPECT_LT(elapsed, std::chrono::seconds(2));
	EXPECT_TRUE(other) << "another unprivileged uid was not answered";
}

TEST_F(UserdbDaemon, AnswersAClientThatClosesItsWriteSide)
{
	ASSERT_TRUE(daemon_->start());
	UniqueFd fd = daemon_->connect();
	ASSERT_TRUE(sendAll(fd.get(), lookupUid(131076) + '\0'));
	ASSERT_EQ(shutdown(fd.get(), SHUT_WR), 0);
	std::string buf;
	auto r = readReply(fd.get(), buf);
	ASSERT_TRUE(r);
	EXPECT_EQ(userNameOf(*r), "xen-qemuuser-4");
	EXPECT_FALSE(readReply(fd.get(), buf)); /* then EOF */
}

TEST_F(UserdbDaemon, ExitsWhenIdleAndNoDmUnitIsLoaded)
{
	for (uint32_t d = 1; d <= 1000; d++)
		daemon_->setUnitLoaded(d, false);
	daemon_->setUnitLoaded(32751, false);
	ASSERT_TRUE(daemon_->start({ "--exit-on-idle=1" }));
	for (int i = 0; i < 50 && daemon_->alive(); i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(daemon_->alive());
}

/* While a DM runs its user is looked up: no restart (socket activation) in between. */
TEST_F(UserdbDaemon, StaysWhileADmUnitIsLoaded)
{
	for (uint32_t d = 1; d <= 1000; d++)
		daemon_->setUnitLoaded(d, d == 7);
	daemon_->setUnitLoaded(32751, false);
	ASSERT_TRUE(daemon_->start({ "--exit-on-idle=1" }));
	std::this_thread::sleep_for(std::chrono::milliseconds(2500));
	EXPECT_TRUE(daemon_->alive()) << "exited while qemu-dm@7.service is loaded";
	daemon_->setUnitLoaded(7, false);
	for (int i = 0; i < 50 && daemon_->alive(); i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(daemon_->alive()) << "still running 5 s after the last DM unit went";
}

TEST_F(UserdbDaemon, SoakKeepsFdsAndMemoryFlat)
{
	ASSERT_TRUE(daemon_->start());
	auto round = [&](int n) {
		for (int i = 0; i < n; i++) {
			uint32_t domid = 1 + static_cast<uint32_t>(i) % 32751;
			auto r = daemon_->call(i % 2 ? lookupUid(131072 + domid)
						     : lookupName(fmt::format("xen-qemuuser-{}", domid)));
			ASSERT_TRUE(r) << i;
		}
		/* a few abandoned half-messages and abrupt closes too */
		for (int i = 0; i < 20; i++) {
			UniqueFd fd = daemon_->connect();
			(void)sendAll(fd.get(), "{\"method\":\"io.systemd");
		}
	};
	round(500); /* warm-up */
	size_t fds = daemon_->settledFdCount();
	long rss = daemon_->rssKiB();
	ASSERT_GT(fds, 0u);
	ASSERT_GT(rss, 0);

	round(3000);

	EXPECT_LE(daemon_->settledFdCount(), fds) << "fd leak";
	EXPECT_LE(daemon_->rssKiB(), rss + 512) << "RSS grew from " << rss << " KiB";
	RecordProperty("fds", static_cast<int>(fds));
	RecordProperty("rss_kib", static_cast<int>(rss));
}

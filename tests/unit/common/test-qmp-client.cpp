/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The QMP client (qmp_client.h) and qemu-dmctl cdrom's core (dm_media.h)
 * against a fake QMP peer on a socket: a well-behaved one (the exchange
 * libxl's cd-insert has with QEMU 7.2, add-fd carrying the medium's fd) and
 * hostile ones that stall, drip, flood, lie or overflow. Each hostile peer
 * must make the call fail with its reason within the bound, never hang it.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dm_media.h"
#include "qmp_client.h"
#include "test_util.h"

using namespace qemudm;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char *kGreeting =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n";

/* The peer's side of one connection. */
class Peer
{
public:
	explicit Peer(int fd) : fd_(fd) {}
	~Peer() { ::close(fd_); }
	bool send(const std::string &s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
	/* One line from the client, and the fd that came with it (-1: none). */
	std::string line(int *fd = nullptr)
	{
		std::string out;
		char c;
		for (;;) {
			struct iovec iov = { &c, 1 };
			alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
			struct msghdr msg = {};
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			msg.msg_control = control;
			msg.msg_controllen = sizeof(control);
			if (::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC) != 1)
				return out;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
				if (cm->cmsg_type == SCM_RIGHTS && fd)
					std::memcpy(fd, CMSG_DATA(cm), sizeof(int));
			if (c == '\n')
				return out;
			out += c;
		}
	}
	int fd() const { return fd_; }

private:
	int fd_;
};

/* A client on one end of a socketpair, `script` playing the peer on the other. */
struct Session {
	std::thread thread;
	Result<QmpClient> client = makeError(EINVAL, "not connected");
	std::chrono::milliseconds took{ 0 };
	~Session()
	{
		client = makeError(EINVAL, "closed"); /* closes our end: a peer blocked in send() returns */
		if (thread.joinable())
			thread.join();
	}
};

void connectTo(Session &s, std::function<void(Peer &)> script, QmpLimits limits = {})
{
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s.thread = std::thread([fd = sv[1], script] {
		Peer p(fd);
		script(p);
	});
	auto t0 = Clock::now();
	s.client = QmpClient::adopt(UniqueFd(sv[0]), limits);
	s.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

/* The handshake every good peer does. */
void handshake(Peer &p)
{
	p.send(kGreeting);
	if (p.line().find("qmp_capabilities") != std::string::npos)
		p.send("{\"return\": {}}\r\n");
}

QmpLimits shortLimits()
{
	QmpLimits l;
	l.timeout = std::chrono::milliseconds(400);
	l.maxMessage = 4096;
	l.maxEvents = 8;
	return l;
}

} /* namespace */

TEST(QmpClient, TalksToAWellBehavedPeerAndPassesAnFd)
{
	int got = -1;
	std::string addFd;
	Session s;
	connectTo(s, [&](Peer &p) {
		handshake(p);
		addFd = p.line(&got);
		p.send("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DEVICE_TRAY_MOVED\", "
		       "\"data\": {}}\r\n");
		p.send("{\"return\": {\"fdset-id\": 3, \"fd\": 27}}\r\n");
	});
	ASSERT_TRUE(s.client.ok()) << s.client.error().message();
	int pipeFds[2];
	ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
	auto args = json::Value::object();
	args.set("opaque", json::Value::string("x"));
	auto r = s.client->execute("add-fd", args, pipeFds[1]);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->find("fdset-id")->asUint32(), std::optional<uint32_t>(3)); /* the event was skipped */
	EXPECT_EQ(addFd, "{\"execute\":\"add-fd\",\"arguments\":{\"opaque\":\"x\"}}");
	s.thread.join();
	ASSERT_GE(got, 0) << "the fd did not come with the command";
	/* It is our pipe: what we write to our end comes out of the passed one's peer. */
	struct stat a, b;
	ASSERT_EQ(::fstat(got, &a), 0);
	ASSERT_EQ(::fstat(pipeFds[1], &b), 0);
	EXPECT_EQ(a.st_ino, b.st_ino);
	::close(got);
	::close(pipeFds[0]);
	::close(pipeFds[1]);
}

TEST(QmpClient, QemusRefusalIsAnErrorWithItsSanitisedReason)
{
	Session s;
	connectTo(s, [](Peer &p) {
		handshake(p);
		p.line();
		p.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Could not open '/x': Permission "
		       "denied\\u001b[2J\"}}\n");
	});
	ASSERT_TRUE(s.client.ok()) << s.client.error().message();
	auto r = s.client->execute("blockdev-change-medium");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EIO);
	EXPECT_EQ(r.error().message(), "QMP blockdev-change-medium failed: Could not open '/x': Permission denied?[2J");
}

TEST(QmpClient, APeerThatNeverGreetsTimesOut)
{
	Session s;
	connectTo(
	    s, [](Peer &p) { p.line(); }, shortLimits()); /* reads until we close */
	ASSERT_FALSE(s.client.ok());
	EXPECT_EQ(s.client.error().code(), ETIMEDOUT);
	EXPECT_THAT(s.client.error().message(), HasSubstr("QMP greeting"));
	EXPECT_LT(s.took.count(), 2000);
}

TEST(QmpClient, APeerThatDripsBytesHitsTheOverallDeadline)
{
	/* One byte every 50 ms never ends a line: each read succeeds, the call as a whole must not. */
	Session s;
	connectTo(
	    s,
	    [](Peer &p) {
		    for (int i = 0; i < 200; i++) {
			    if (!p.send("{"))
				    return;
			    std::this_thread::sleep_for(std::chrono::milliseconds(50));
		    }
	    },
	    shortLimits());
	ASSERT_FALSE(s.client.ok());
	EXPECT_EQ(s.client.error().code(), ETIMEDOUT);
	EXPECT_LT(s.took.count(), 2000);
}

TEST(QmpClient, AnOversizedMessageIsRefusedNotBuffered)
{
	Session s;
	connectTo(
	    s,
	    [](Peer &p) {
		    std::string big(1 << 20, ' '); /* 1 MiB without a newline */
		    big[0] = '"';
		    (void)p.send(big);
	    },
	    shortLimits());
	ASSERT_FALSE(s.client.ok());
	EXPECT_EQ(s.client.error().code(), EMSGSIZE);
	EXPECT_THAT(s.client.error().message(), HasSubstr("longer than 4096 bytes"));
}

TEST(QmpClient, AFloodOfEventsIsNoReply)
{
	Session s;
	connectTo(
	    s,
	    [](Peer &p) {
		    handshake(p);
		    p.line();
		    for (int i = 0; i < 10000; i++)
			    if (!p.send("{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}}\n"))
				    return;
	    },
	    shortLimits());
	ASSERT_TRUE(s.client.ok()) << s.client.error().message();
	auto r = s.client->execute("eject");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EPROTO);
	EXPECT_THAT(r.error().message(), HasSubstr("more than 8 events"));
}

TEST(QmpClient, MalformedAndMissingRepliesAreErrors)
{
	struct Case {
		std::string reply;
		int code;
		std::string what;
	};
	const std::vector<Case> cases = {
		{ "{\"return\": {}, \"return\": 1}\n", EPROTO, "invalid JSON" },
		{ "[1, 2]\n", EPROTO, "not an object" },
		{ "{\"retrun\": {}}\n", EPROTO, "neither" },
		{ "", ECONNRESET, "closed the connection" },
	};
	for (const Case &c : cases) {
		Session s;
		connectTo(
		    s,
		    [&](Peer &p) {
			    handshake(p);
			    p.line();
			    if (!c.reply.empty())
				    p.send(c.reply);
			    ::shutdown(p.fd(), SHUT_WR);
			    p.line();
		    },
		    shortLimits());
		ASSERT_TRUE(s.client.ok()) << s.client.error().message();
		auto r = s.client->execute("query-block");
		ASSERT_FALSE(r.ok()) << c.reply;
		EXPECT_EQ(r.error().code(), c.code) << c.reply << ": " << r.error().message();
		EXPECT_THAT(r.error().message(), HasSubstr(c.what)) << c.reply;
	}
	/* A greeting that is not QMP's. */
	Session s;
	connectTo(
	    s, [](Peer &p) { p.send("{\"hello\": 1}\n"); }, shortLimits());
	ASSERT_FALSE(s.client.ok());
	EXPECT_THAT(s.client.error().message(), HasSubstr("no QMP greeting"));
}

/* ---- changeCdrom against a fake QEMU on a unix socket ---- */

class Cdrom : public ::testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_.str();
		std::filesystem::create_directories(root_ + "/srv");
		std::ofstream(root_ + "/srv/one.iso") << "medium one";
		socket_ = root_ + "/qmp.sock";
		listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {};
		sa.sun_family = AF_UNIX;
		std::strcpy(sa.sun_path, socket_.c_str());
		ASSERT_EQ(::bind(listen_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
		ASSERT_EQ(::listen(listen_, 1), 0);
	}
	void TearDown() override
	{
		if (qemu_.joinable())
			qemu_.join();
		::close(listen_);
	}
	/* Accept one client and play `script`. */
	void serve(std::function<void(Peer &)> script)
	{
		qemu_ = std::thread([this, script] {
			int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
			if (c < 0)
				return;
			Peer p(c);
			script(p);
		});
	}
	CdromChange change(std::optional<std::string> path)
	{
		CdromChange c;
		c.domid = 7;
		c.device = "hdc";
		c.path = std::move(path);
		c.qmpSocket = socket_;
		c.root = root_;
		c.limits = shortLimits();
		return c;
	}

	qemudm::test::TempDir tmp_{ "qemu-dm-cdrom" };
	std::string root_, socket_;
	int listen_ = -1;
	std::thread qemu_;
};

TEST_F(Cdrom, InsertHandsTheOpenedMediumAndNoPath)
{
	std::vector<std::string> commands;
	std::string content;
	int flags = -1;
	serve([&](Peer &p) {
		handshake(p);
		int fd = -1;
		commands.push_back(p.line(&fd));
		if (fd >= 0) {
			char buf[32] = {};
			ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
			content.assign(buf, n > 0 ? size_t(n) : 0);
			flags = ::fcntl(fd, F_GETFL);
			::close(fd);
		}
		p.send("{\"return\": {\"fdset-id\": 4, \"fd\": 30}}\n");
		commands.push_back(p.line());
		p.send("{\"return\": {}}\n");
	});
	auto s = changeCdrom(change("/srv/one.iso"));
	ASSERT_TRUE(s.ok()) << s.error().message();
	qemu_.join();
	ASSERT_EQ(commands.size(), 2u);
	EXPECT_EQ(commands[0], "{\"execute\":\"add-fd\",\"arguments\":{\"opaque\":\"qemu-dm:/srv/one.iso\"}}");
	EXPECT_EQ(content, "medium one");
	EXPECT_EQ(flags & O_ACCMODE, O_RDONLY);
	EXPECT_EQ(commands[1], "{\"execute\":\"blockdev-change-medium\",\"arguments\":{\"device\":\"ide-5632\","
			       "\"filename\":\"/dev/fdset/4\",\"format\":\"raw\",\"read-only-mode\":\"read-only\"}}");
}

TEST_F(Cdrom, ARefusedChangeRemovesTheFdSetAndNamesTheDomain)
{
	std::vector<std::string> commands;
	serve([&](Peer &p) {
		handshake(p);
		int fd = -1;
		commands.push_back(p.line(&fd));
		if (fd >= 0)
			::close(fd);
		p.send("{\"return\": {\"fdset-id\": 4, \"fd\": 30}}\n");
		commands.push_back(p.line());
		p.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'ide-5632' not found\"}}\n");
		commands.push_back(p.line());
		p.send("{\"return\": {}}\n");
	});
	auto s = changeCdrom(change("/srv/one.iso"));
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().message(), "domain 7: Failed to insert /srv/one.iso into ide-5632: QMP "
				       "blockdev-change-medium failed: Device 'ide-5632' not found");
	qemu_.join();
	ASSERT_EQ(commands.size(), 3u);
	EXPECT_EQ(commands[2], "{\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":4}}");
}

TEST_F(Cdrom, EjectAndRefusalsBeforeAnyQmp)
{
	std::string cmd;
	serve([&](Peer &p) {
		handshake(p);
		cmd = p.line();
		p.send("{\"return\": {}}\n");
	});
	auto s = changeCdrom(change(std::nullopt));
	ASSERT_TRUE(s.ok()) << s.error().message();
	qemu_.join();
	EXPECT_EQ(cmd, "{\"execute\":\"eject\",\"arguments\":{\"device\":\"ide-5632\",\"force\":true}}");

	/* Refused before connecting: nothing of these reaches QEMU (no one accepts). */
	ASSERT_EQ(::symlink("/etc/shadow", (root_ + "/srv/link.iso").c_str()), 0);
	auto l = changeCdrom(change("/srv/link.iso"));
	ASSERT_FALSE(l.ok());
	EXPECT_THAT(l.error().message(), HasSubstr("domain 7: medium /srv/link.iso"));
	EXPECT_THAT(l.error().message(), HasSubstr("symbolic link"));
	auto missing = changeCdrom(change("/srv/none.iso"));
	ASSERT_FALSE(missing.ok());
	EXPECT_THAT(missing.error().message(), HasSubstr("No such file"));
	CdromChange bad = change("/srv/one.iso");
	bad.device = "ide-1,file=/etc/shadow";
	auto d = changeCdrom(bad);
	ASSERT_FALSE(d.ok());
	EXPECT_THAT(d.error().message(), HasSubstr("domain 7: 'ide-1,file=/etc/shadow' is not a drive"));
	EXPECT_EQ(*qemuBlockDevice(1, "hda"), "ide-768");
	EXPECT_EQ(*qemuBlockDevice(1, "ide-5696"), "ide-5696");
}

TEST_F(Cdrom, ADmThatAcceptsButNeverAnswersCannotHangTheCaller)
{
	serve([](Peer &p) { p.line(); });
	auto t0 = Clock::now();
	auto s = changeCdrom(change("/srv/one.iso"));
	auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().code(), ETIMEDOUT);
	EXPECT_THAT(s.error().message(), HasSubstr("domain 7: Failed to insert /srv/one.iso into ide-5632"));
	EXPECT_LT(took.count(), 2000);
}

TEST_F(Cdrom, NoDmListeningIsAClearError)
{
	CdromChange c = change(std::nullopt);
	c.qmpSocket = root_ + "/none.sock";
	auto s = changeCdrom(c);
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().code(), ENOENT);
	EXPECT_THAT(s.error().message(), HasSubstr("domain 7: Failed to eject the medium of ide-5632: Failed to "
						   "connect to QMP socket " +
						   c.qmpSocket));
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The fd channel (common/fd_channel.h) and qemu-dm-exec's --fd: message
 * parsing, the type checks, every refusal of receiveFds() over a real
 * socketpair, and the two-phase placement with real descriptors.
 */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "exec_args.h"
#include "fd_channel.h"
#include "test_support.h"

using namespace qemudm;
using namespace std::chrono_literals;

namespace {

std::vector<std::byte> payload(uint32_t magic, int32_t target, uint32_t kind)
{
	FdChannelMessage m{ magic, target, kind };
	std::vector<std::byte> b(sizeof(m));
	std::memcpy(b.data(), &m, sizeof(m));
	return b;
}

struct Pipe {
	UniqueFd r, w;
	Pipe()
	{
		int p[2];
		EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
		r.reset(p[0]);
		w.reset(p[1]);
	}
};

UniqueFd socketFd()
{
	return UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

UniqueFd fileFd()
{
	char tmpl[] = "/tmp/qemu-dm-fd-test.XXXXXX";
	int fd = ::mkostemp(tmpl, O_CLOEXEC);
	::unlink(tmpl);
	return UniqueFd(fd);
}

ino_t inodeOf(int fd)
{
	struct stat st {
	};
	EXPECT_EQ(::fstat(fd, &st), 0) << "fd " << fd;
	return st.st_ino;
}

/* A raw message with any number of fds, for what sendFds() never sends. */
void sendRaw(int sock, const std::vector<std::byte> &data, const std::vector<int> &fds)
{
	iovec iov{ const_cast<std::byte *>(data.data()), data.size() };
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (!fds.empty()) {
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
		std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
	}
	ASSERT_EQ(::sendmsg(sock, &msg, 0), static_cast<ssize_t>(data.size())) << std::strerror(errno);
}

std::string receiveError(FdChannelPair &ch, const std::vector<FdDecl> &declared,
			 std::chrono::milliseconds timeout = 2000ms)
{
	auto r = receiveFds(ch.remote.get(), declared, timeout);
	return r ? std::string("received") : r.error().message();
}

} /* namespace */

TEST(FdChannel, KindsAndDeclarations)
{
	EXPECT_EQ(*fdKindOfMode(S_IFSOCK | 0600), ChannelFdKind::Socket);
	EXPECT_EQ(*fdKindOfMode(S_IFIFO | 0600), ChannelFdKind::Pipe);
	EXPECT_EQ(*fdKindOfMode(S_IFREG | 0600), ChannelFdKind::File);
	EXPECT_FALSE(fdKindOfMode(S_IFDIR | 0755));
	EXPECT_FALSE(fdKindOfMode(S_IFCHR | 0666));
	EXPECT_FALSE(fdKindOfMode(S_IFBLK | 0660));
	EXPECT_FALSE(fdKindOfMode(S_IFLNK | 0777));

	auto d = parseFdDecl("16:socket");
	ASSERT_TRUE(d) << d.error().message();
	EXPECT_EQ(*d, (FdDecl{ 16, ChannelFdKind::Socket }));
	EXPECT_EQ(d->toString(), "16:socket");
	EXPECT_EQ(parseFdDecl("3:pipe")->kind, ChannelFdKind::Pipe);
	EXPECT_EQ(parseFdDecl("1023:file")->kind, ChannelFdKind::File);
	for (const char *bad : { "16", "2:socket", "0:file", "1024:file", "-3:pipe", "x:pipe", "16:", "16:dir",
				 ":socket", "16:socket:x", "" })
		EXPECT_FALSE(parseFdDecl(bad)) << bad;

	std::vector<FdDecl> dup = { { 5, ChannelFdKind::Socket },
				    { 6, ChannelFdKind::Pipe },
				    { 5, ChannelFdKind::File } };
	auto s = checkFdDecls(dup);
	ASSERT_FALSE(s);
	EXPECT_EQ(s.error().message(), "fd target 5 given twice");
	std::vector<FdDecl> many(kMaxChannelFds + 1);
	for (size_t i = 0; i < many.size(); i++)
		many[i].target = static_cast<int>(3 + i);
	EXPECT_FALSE(checkFdDecls(many));
}

TEST(FdChannel, MessageParsing)
{
	auto e = parseFdChannelMessage(payload(kFdChannelMagic, 7, 2), 1);
	ASSERT_TRUE(e) << e.error().message();
	EXPECT_FALSE(e->end);
	EXPECT_EQ(e->decl, (FdDecl{ 7, ChannelFdKind::Pipe }));
	auto end = parseFdChannelMessage(payload(kFdChannelMagic, -1, 0), 0);
	ASSERT_TRUE(end);
	EXPECT_TRUE(end->end);

	auto msg = [](std::vector<std::byte> p, size_t fds) {
		auto r = parseFdChannelMessage(p, fds);
		return r ? std::string("ok") : r.error().message();
	};
	EXPECT_EQ(msg(payload(kFdChannelMagic, -1, 0), 1), "fd channel: the end message carries 1 fds");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 7, 1), 0), "fd channel: the message for fd 7 carries 0 fds, expected 1");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 7, 1), 2), "fd channel: the message for fd 7 carries 2 fds, expected 1");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 7, 4), 1), "fd channel: fd 7 has an unknown kind 4");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 7, 0), 1), "fd channel: fd 7 has an unknown kind 0");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 2, 1), 1), "fd channel: fd target 2: expected 3 to 1023");
	EXPECT_EQ(msg(payload(kFdChannelMagic, 4096, 1), 1), "fd channel: fd target 4096: expected 3 to 1023");
	EXPECT_EQ(msg(payload(0x12345678, 7, 1), 1), "fd channel: a message with a bad magic number");
	auto shortMsg = payload(kFdChannelMagic, 7, 1);
	shortMsg.pop_back();
	EXPECT_EQ(msg(shortMsg, 1), "fd channel: a message of 11 bytes, expected 12");
}

TEST(FdChannel, DeclareRefusesWhatCannotBeHandedOver)
{
	Pipe p;
	auto sock = socketFd();
	auto file = fileFd();
	auto ok = declareHandedFds(std::vector<HandedFd>{ { sock.get(), 7 }, { p.r.get(), 9 }, { file.get(), 12 } });
	ASSERT_TRUE(ok) << ok.error().message();
	EXPECT_EQ(*ok, (std::vector<FdDecl>{
			   { 7, ChannelFdKind::Socket }, { 9, ChannelFdKind::Pipe }, { 12, ChannelFdKind::File } }));

	auto err = [](std::vector<HandedFd> fds) {
		auto r = declareHandedFds(fds);
		return r ? std::string("ok") : r.error().message();
	};
	int closed = ::dup(p.w.get());
	::close(closed);
	EXPECT_EQ(err({ { closed, 7 } }), fmt::format("QEMU's fd 7: fd {}: Bad file descriptor", closed));
	UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	EXPECT_EQ(
	    err({ { null.get(), 7 } }),
	    fmt::format("QEMU's fd 7: fd {}: a character device, not a socket, pipe or regular file", null.get()));
	UniqueFd dir(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_EQ(err({ { dir.get(), 7 } }),
		  fmt::format("QEMU's fd 7: fd {}: a directory, not a socket, pipe or regular file", dir.get()));
	EXPECT_EQ(err({ { sock.get(), 7 }, { p.r.get(), 7 } }), "QEMU's fd 7 is handed over twice");
	EXPECT_EQ(err({ { sock.get(), 2 } }),
		  fmt::format("fd {} for QEMU's fd 2: the target must be 3 to 1023", sock.get()));
}

TEST(FdChannel, RoundTripInAnyOrder)
{
	auto ch = makeFdChannel();
	ASSERT_TRUE(ch);
	Pipe p;
	auto sock = socketFd();
	auto file = fileFd();
	std::vector<HandedFd> fds = { { p.r.get(), 20 }, { sock.get(), 5 }, { file.get(), 9 } };
	auto decls = declareHandedFds(fds);
	ASSERT_TRUE(decls);
	ASSERT_TRUE(sendFds(ch->local.get(), fds, *decls));
	ch->local.reset();
	/* Declared in another order than sent. */
	std::vector<FdDecl> declared = { { 5, ChannelFdKind::Socket },
					 { 9, ChannelFdKind::File },
					 { 20, ChannelFdKind::Pipe } };
	auto got = receiveFds(ch->remote.get(), declared, 2000ms);
	ASSERT_TRUE(got) << got.error().message();
	ASSERT_EQ(got->size(), 3u);
	EXPECT_EQ((*got)[0].decl.target, 20);
	EXPECT_EQ(inodeOf((*got)[0].fd.get()), inodeOf(p.r.get()));
	EXPECT_EQ(inodeOf((*got)[1].fd.get()), inodeOf(sock.get()));
	EXPECT_EQ(inodeOf((*got)[2].fd.get()), inodeOf(file.get()));
	EXPECT_TRUE(::fcntl((*got)[0].fd.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(FdChannel, ReceiveRefusesBadInput)
{
	Pipe p;
	auto sock = socketFd();
	const std::vector<FdDecl> oneSocket = { { 7, ChannelFdKind::Socket } };
	auto end = payload(kFdChannelMagic, -1, 0);

	{ /* Undeclared target. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 8, 1), { sock.get() });
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: fd 8 was not declared");
	}
	{ /* Tagged with another kind than declared. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 2), { p.r.get() });
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: fd 7 came as a pipe, declared a socket");
	}
	{ /* Tagged as declared, but the fd is of another type. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { p.r.get() });
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: fd 7 is a pipe, declared a socket");
	}
	{ /* The same target twice. */
		auto ch = makeFdChannel().value();
		const std::vector<FdDecl> two = { { 7, ChannelFdKind::Socket }, { 8, ChannelFdKind::Socket } };
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		EXPECT_EQ(receiveError(ch, two), "fd channel: fd 7 came twice");
	}
	{ /* Two fds in one message. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get(), sock.get() });
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: the message for fd 7 carries 2 fds, expected 1");
	}
	{ /* The end before every declared fd. */
		auto ch = makeFdChannel().value();
		const std::vector<FdDecl> two = { { 7, ChannelFdKind::Socket }, { 8, ChannelFdKind::Pipe } };
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		sendRaw(ch.local.get(), end, {});
		EXPECT_EQ(receiveError(ch, two), "fd channel: ended without the declared fds 8");
	}
	{ /* More messages than declared fds. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		sendRaw(ch.local.get(), end, {});
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: fd 7 came twice");
	}
	{ /* Closed by the sender without the end message. */
		auto ch = makeFdChannel().value();
		sendRaw(ch.local.get(), payload(kFdChannelMagic, 7, 1), { sock.get() });
		ch.local.reset();
		EXPECT_EQ(receiveError(ch, oneSocket), "fd channel: closed after 1 of 1 fds, without the end message");
	}
	{ /* Nothing comes: the time limit. */
		auto ch = makeFdChannel().value();
		EXPECT_EQ(receiveError(ch, oneSocket, 100ms),
			  "fd channel: no end message within 100 ms (0 of 1 fds came)");
	}
	{ /* A declaration list that is itself wrong. */
		auto ch = makeFdChannel().value();
		EXPECT_EQ(receiveError(ch, { { 7, ChannelFdKind::Socket }, { 7, ChannelFdKind::Pipe } }),
			  "fd channel: fd target 7 given twice");
	}
}

TEST(FdChannel, PlacementDoesNotClobber)
{
	/* Two fds sitting at each other's targets, and a third at a number a target will take. */
	Pipe a, b;
	auto c = fileFd();
	int base = 200;
	ASSERT_EQ(::dup2(a.r.get(), base), base);
	ASSERT_EQ(::dup2(b.r.get(), base + 1), base + 1);
	ASSERT_EQ(::dup2(c.get(), base + 2), base + 2);
	std::vector<ReceivedFd> fds;
	fds.push_back({ UniqueFd(base), { base + 1, ChannelFdKind::Pipe } });
	fds.push_back({ UniqueFd(base + 1), { base, ChannelFdKind::Pipe } });
	fds.push_back({ UniqueFd(base + 2), { base + 5, ChannelFdKind::File } });
	ASSERT_TRUE(placeFds(fds, {}));
	EXPECT_EQ(inodeOf(base + 1), inodeOf(a.r.get()));
	EXPECT_EQ(inodeOf(base), inodeOf(b.r.get()));
	EXPECT_EQ(inodeOf(base + 5), inodeOf(c.get()));
	EXPECT_LT(::fcntl(base + 2, F_GETFD), 0) << "the original of a moved fd stays open";
	for (int t : { base, base + 1, base + 5 }) {
		EXPECT_FALSE(::fcntl(t, F_GETFD) & FD_CLOEXEC) << t;
		::close(t);
	}
	for (const ReceivedFd &r : fds)
		EXPECT_FALSE(r.fd.isValid());

	std::vector<ReceivedFd> reserved;
	reserved.push_back({ UniqueFd(::dup(a.r.get())), { 40, ChannelFdKind::Pipe } });
	const int keep[] = { 40 };
	auto s = placeFds(reserved, keep);
	ASSERT_FALSE(s);
	EXPECT_EQ(s.error().message(), "fd target 40 is already in use");
}

TEST(FdChannel, ExecCommandLine)
{
	auto parse = [](std::vector<std::string> extra) {
		std::vector<std::string> args = { "--domid", "5", "--type", "hvm", "--runas", "131077:997" };
		args.insert(args.end(), extra.begin(), extra.end());
		args.insert(args.end(), { "--", "/usr/bin/qemu-system-i386" });
		return parseExecArgs(args, test::fakeResolve);
	};
	auto o = parse({ "--fd", "16:socket", "--fd=17:pipe" });
	ASSERT_TRUE(o) << o.error().message();
	EXPECT_EQ(o->fds, (std::vector<FdDecl>{ { 16, ChannelFdKind::Socket }, { 17, ChannelFdKind::Pipe } }));
	auto err = [&](std::vector<std::string> extra) {
		auto r = parse(extra);
		return r ? std::string("ok") : r.error().message();
	};
	EXPECT_EQ(err({ "--fd", "16:socket", "--fd", "16:pipe" }), "--fd: fd target 16 given twice");
	EXPECT_EQ(err({ "--fd", "2:socket" }), "--fd: '2:socket': the target must be 3 or more (0, 1 and 2 are stdio)");
	EXPECT_EQ(err({ "--fd", "16:tty" }), "--fd: '16:tty': unknown fd kind 'tty', expected socket, pipe or file");
	EXPECT_EQ(err({ "--fd", "16:socket", "--stdin-fd", "17" }),
		  "--stdin-fd and --fd both use stdin: give one of them");
	EXPECT_EQ(err({ "--fd", "16:socket", "--keep-fd", "16" }), "--fd 16 is also a --keep-fd");
}

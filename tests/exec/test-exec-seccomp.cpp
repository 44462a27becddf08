/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-exec's credential filter (helpers/exec/exec_seccomp.h): the rule table,
 * and the real filter loaded in a forked root child, which then tries to take
 * other ids (another domain's uid, root) before and after its own drop.
 */

#include <gtest/gtest.h>

#include <grp.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "exec_seccomp.h"

using namespace qemudm;

namespace {

constexpr uid_t kUid = 131072 + 7;
constexpr uid_t kPeerUid = 131072 + 8;
constexpr gid_t kGid = 61234;
constexpr gid_t kPeerGid = 61235;

TEST(CredentialRules, EveryCredentialSyscallIsPinnedToTheOwnIds)
{
	std::map<std::string, CredentialRule> byName;
	for (const CredentialRule &r : credentialRules(kUid, kGid))
		byName[r.syscall] = r;
	const std::map<std::string, std::pair<unsigned, unsigned>> want = {
		{ "setuid", { 1, kUid } },    { "setreuid", { 2, kUid } }, { "setresuid", { 3, kUid } },
		{ "setfsuid", { 1, kUid } },  { "setgid", { 1, kGid } },   { "setregid", { 2, kGid } },
		{ "setresgid", { 3, kGid } }, { "setfsgid", { 1, kGid } }, { "setgroups", { 0, 0 } },
	};
	ASSERT_EQ(byName.size(), want.size());
	for (const auto &[name, w] : want) {
		ASSERT_TRUE(byName.count(name)) << name;
		EXPECT_EQ(byName[name].idArgs, w.first) << name;
		if (w.first > 0) {
			EXPECT_EQ(byName[name].id, w.second) << name;
		}
	}
}

/*
 * Run `body` in a forked child after loading the filter for kUid:kGid; the
 * child's exit status is 0 when every step behaved, else the failing step's
 * number (its message on stderr).
 */
int inFilteredChild(const std::function<int()> &body, bool neverRoot = false)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		Status s = installCredentialFilter(neverRoot ? neverRootCredentialRules(kUid, kGid)
							     : credentialRules(kUid, kGid));
		if (!s) {
			std::fprintf(stderr, "install: %s\n", s.error().message().c_str());
			_exit(100);
		}
		_exit(body());
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Step n: `rc` must be -1 with EPERM (blocked) or 0 (allowed), as `blocked` says. */
#define STEP(n, blocked, call)                                                                                         \
	do {                                                                                                           \
		errno = 0;                                                                                             \
		long rc_ = (call);                                                                                     \
		bool ok_ = (blocked) ? (rc_ == -1 && errno == EPERM) : rc_ == 0;                                       \
		if (!ok_) {                                                                                            \
			std::fprintf(stderr, "step %d: %s returned %ld (%s)\n", n, #call, rc_, std::strerror(errno));  \
			return n;                                                                                      \
		}                                                                                                      \
	} while (0)

class CredentialFilter : public ::testing::Test
{
protected:
	void SetUp() override
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (CAP_SETUID, to show what the filter takes away)";
	}
};

TEST_F(CredentialFilter, RootWindowReachesOnlyTheOwnUidAndGid)
{
	EXPECT_EQ(inFilteredChild([] {
			  /* In the root window: every way to another uid or gid fails with EPERM. */
			  STEP(1, true, setuid(kPeerUid));
			  STEP(2, true, setresuid(kPeerUid, kPeerUid, kPeerUid));
			  STEP(3, true, setresuid(kUid, kUid, kPeerUid));
			  STEP(4, true, setreuid(kPeerUid, kPeerUid));
			  STEP(5, true, setreuid(kUid, kPeerUid));
			  STEP(6, true, setgid(kPeerGid));
			  STEP(7, true, setresgid(kPeerGid, kPeerGid, kPeerGid));
			  STEP(8, true, setregid(kGid, kPeerGid));
			  STEP(9, true, setgid(0));
			  /* -1 ("unchanged") is refused too (see exec_seccomp.h). */
			  STEP(10, true, setresuid(-1, kPeerUid, -1));
			  STEP(11, true, setresuid(-1, -1, -1));
			  /* setfsuid(2) has no error return: -1 here is the filter's EPERM. */
			  STEP(12, true, setfsuid(kPeerUid));
			  STEP(13, true, setfsgid(kPeerGid));
			  /* Still root: none of that took effect. */
			  if (getuid() != 0 || geteuid() != 0 || getgid() != 0)
				  return 14;
			  /* QEMU's own -runas uid:gid drop works: setgid, setgroups(1, [gid]), setuid. */
			  gid_t g = kGid;
			  STEP(15, false, setgid(kGid));
			  STEP(16, false, setgroups(1, &g));
			  STEP(17, false, setuid(kUid));
			  uid_t r = 0, e = 0, s = 0;
			  if (getresuid(&r, &e, &s) != 0 || r != kUid || e != kUid || s != kUid)
				  return 18;
			  /* After the drop: root and the peer stay out of reach. */
			  STEP(19, true, setuid(0));
			  STEP(20, true, setuid(kPeerUid));
			  STEP(21, true, setresuid(0, 0, 0));
			  STEP(22, false, setresuid(kUid, kUid, kUid));
			  return 0;
		  }),
		  0);
}

TEST_F(CredentialFilter, NeverRootDeniesSetgroupsWhateverTheList)
{
	EXPECT_EQ(inFilteredChild(
		      [] {
			      /* Even with CAP_SETGID (root here), the never-root filter takes setgroups away. */
			      gid_t g = kGid;
			      STEP(1, true, setgroups(1, &g));
			      STEP(2, true, setgroups(0, nullptr));
			      STEP(3, true, setuid(kPeerUid));
			      STEP(4, true, setgid(0));
			      /* The pins are those of the root model. */
			      STEP(5, false, setgid(kGid));
			      STEP(6, false, setuid(kUid));
			      STEP(7, true, setuid(0));
			      return 0;
		      },
		      true),
		  0);
}

TEST_F(CredentialFilter, TheOwnIdsInEveryFormAreAllowed)
{
	EXPECT_EQ(inFilteredChild([] {
			  STEP(1, false, setresgid(kGid, kGid, kGid));
			  STEP(2, false, setregid(kGid, kGid));
			  if (setfsgid(kGid) < 0)
				  return 3;
			  STEP(4, false, setreuid(kUid, kUid));
			  if (setfsuid(kUid) < 0)
				  return 5;
			  uid_t r = 0, e = 0, s = 0;
			  if (getresuid(&r, &e, &s) != 0 || r != kUid || e != kUid || s != kUid)
				  return 6;
			  return 0;
		  }),
		  0);
}

TEST_F(CredentialFilter, WithoutTheFilterTheSameRootCanTakeThePeerUid)
{
	/* The control: the same calls in an unfiltered root child succeed. */
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(setresuid(kPeerUid, kPeerUid, kPeerUid) == 0 && geteuid() == kPeerUid ? 0 : 1);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

} /* namespace */

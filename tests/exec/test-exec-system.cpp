/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-exec's system glue: the chroot directory decision (fake and real
 * file system), the uid scan over a fake /proc, closing descriptors, and the
 * domain check over a fake XenControl.
 */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "exec_system.h"
#include "exec_xen.h"
#include "test_util.h"

using namespace qemudm;
using qemudm::test::TempDir;
namespace fs = std::filesystem;

namespace {

/* An in-memory file system for prepareChrootDir(). */
struct FakeFs {
	std::map<std::string, PathInfo> entries;
	std::map<std::string, bool> empty;
	std::vector<std::string> calls;

	ChrootDirOps ops()
	{
		ChrootDirOps o;
		o.lstat = [this](const std::string &p) -> Result<PathInfo> {
			auto it = entries.find(p);
			return it == entries.end() ? PathInfo{} : it->second;
		};
		o.mkdir = [this](const std::string &p, mode_t m) -> Status {
			calls.push_back(fmt::format("mkdir {} {:04o}", p, m));
			entries[p] = { true, S_IFDIR | m, 0 };
			return success();
		};
		o.chmod = [this](const std::string &p, mode_t m) -> Status {
			calls.push_back(fmt::format("chmod {} {:04o}", p, m));
			entries[p].mode = (entries[p].mode & S_IFMT) | m;
			return success();
		};
		o.isEmpty = [this](const std::string &p) -> Result<bool> { return empty.count(p) ? empty[p] : true; };
		return o;
	}
};

constexpr const char *kParent = "/run/qemu-dm/5";
constexpr const char *kDir = "/run/qemu-dm/5/root";

} /* namespace */

TEST(ChrootDir, CreatesMissingDirectoryWithMode0100)
{
	FakeFs f;
	f.entries[kParent] = { true, S_IFDIR | 0755, 0 };
	auto r = prepareChrootDir(kDir, f.ops());
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(f.calls,
		  (std::vector<std::string>{ "mkdir /run/qemu-dm/5/root 0100", "chmod /run/qemu-dm/5/root 0100" }));
}

TEST(ChrootDir, AcceptsOrFixesAnExistingGoodDirectory)
{
	for (mode_t mode : { 0100, 0000, 0700, 0755, 0500 }) {
		FakeFs f;
		f.entries[kParent] = { true, S_IFDIR | 0700, 0 };
		f.entries[kDir] = { true, S_IFDIR | mode, 0 };
		auto r = prepareChrootDir(kDir, f.ops());
		ASSERT_TRUE(r.ok()) << r.error().message();
		EXPECT_EQ(f.entries[kDir].mode & 07777, 0100u);
		EXPECT_EQ(f.calls.empty(), mode == 0100) << std::oct << mode;
	}
}

TEST(ChrootDir, RefusesUnsafeDirectories)
{
	struct Case {
		const char *name;
		PathInfo parent;
		PathInfo dir;
		bool empty;
		const char *message;
	} cases[] = {
		{ "no-parent", {}, {}, true, "/run/qemu-dm/5 does not exist" },
		{ "parent-symlink", { true, S_IFLNK | 0777, 0 }, {}, true, "not a directory" },
		{ "parent-not-root", { true, S_IFDIR | 0755, 1000 }, {}, true, "owned by uid 1000" },
		{ "parent-world-writable", { true, S_IFDIR | 01777, 0 }, {}, true, "writable by group or others" },
		{ "dir-is-file", { true, S_IFDIR | 0755, 0 }, { true, S_IFREG | 0100, 0 }, true, "not a directory" },
		{ "dir-is-symlink", { true, S_IFDIR | 0755, 0 }, { true, S_IFLNK | 0777, 0 }, true, "symbolic link" },
		{ "dir-not-root",
		  { true, S_IFDIR | 0755, 0 },
		  { true, S_IFDIR | 0100, 131077 },
		  true,
		  "owned by uid 131077" },
		{ "dir-group-writable",
		  { true, S_IFDIR | 0755, 0 },
		  { true, S_IFDIR | 0170, 0 },
		  true,
		  "writable by group" },
		{ "dir-other-writable",
		  { true, S_IFDIR | 0755, 0 },
		  { true, S_IFDIR | 0102, 0 },
		  true,
		  "writable by group" },
		{ "dir-not-empty", { true, S_IFDIR | 0755, 0 }, { true, S_IFDIR | 0100, 0 }, false, "is not empty" },
	};
	for (const Case &c : cases) {
		FakeFs f;
		if (c.parent.exists)
			f.entries[kParent] = c.parent;
		if (c.dir.exists)
			f.entries[kDir] = c.dir;
		f.empty[kDir] = c.empty;
		auto r = prepareChrootDir(kDir, f.ops());
		ASSERT_FALSE(r.ok()) << c.name;
		EXPECT_NE(r.error().message().find(c.message), std::string::npos)
		    << c.name << ": " << r.error().message();
		EXPECT_TRUE(f.calls.empty()) << c.name << ": nothing may change on refusal";
	}
}

TEST(ChrootDirReal, CreatesValidatesAndRefuses)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root: the chroot directory must be owned by uid 0";
	TempDir tmp;
	std::string dir = tmp.path() / "root";
	ChrootDirOps ops = systemChrootDirOps();

	ASSERT_TRUE(prepareChrootDir(dir, ops).ok());
	struct stat st;
	ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0100u);
	EXPECT_EQ(st.st_uid, 0u);

	/* Again: reused as is. libxl's 0000 is fixed to 0100. */
	ASSERT_TRUE(prepareChrootDir(dir, ops).ok());
	ASSERT_EQ(::chmod(dir.c_str(), 0000), 0);
	ASSERT_TRUE(prepareChrootDir(dir, ops).ok());
	ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0100u);

	/* Not empty: refused, and the mode is left as it was. */
	ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
	std::ofstream(dir + "/leftover") << "x";
	ASSERT_EQ(::chmod(dir.c_str(), 0100), 0);
	auto r = prepareChrootDir(dir, ops);
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message().find("not empty"), std::string::npos) << r.error().message();
	ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0100u);

	/* A symlink in its place is refused. */
	std::string link = tmp.path() / "link";
	ASSERT_EQ(::symlink("/", link.c_str()), 0);
	EXPECT_FALSE(prepareChrootDir(link, ops).ok());
}

TEST(UidScan, FindsAnyOfTheFourUids)
{
	TempDir proc;
	auto addProc = [&](const char *pid, const char *uids) {
		fs::create_directory(proc.path() / pid);
		std::ofstream(proc.path() / pid / "status")
		    << "Name:\tqemu\nUmask:\t0077\nState:\tS (sleeping)\nPid:\t" << pid << "\nUid:\t" << uids
		    << "\nGid:\t997\t997\t997\t997\n";
	};
	addProc("1", "0\t0\t0\t0");
	addProc("200", "1000\t1000\t1000\t1000");
	addProc("300", "0\t0\t131077\t0"); /* saved uid only */
	fs::create_directory(proc.path() / "sys");
	fs::create_directory(proc.path() / "400"); /* exited meanwhile: no status */
	std::ofstream(proc.path() / "self") << "";

	auto hit = findProcessOfUid(131077, proc.path());
	ASSERT_TRUE(hit.ok()) << hit.error().message();
	ASSERT_TRUE(hit->has_value());
	EXPECT_EQ(**hit, 300);

	auto miss = findProcessOfUid(131078, proc.path());
	ASSERT_TRUE(miss.ok());
	EXPECT_FALSE(miss->has_value());

	EXPECT_FALSE(findProcessOfUid(1, "/nonexistent-proc").ok());
}

TEST(UidScan, RealProcSeesOurOwnUid)
{
	auto r = findProcessOfUid(geteuid());
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_TRUE(r->has_value());
}

TEST(CloseFds, KeepsOnlyStdioAndNamedDescriptors)
{
	/* In a child, so the test runner's own descriptors stay untouched. */
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int a = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
		int b = dup2(a, 20);
		int c = dup2(a, 21);
		int d = dup2(a, 400);
		if (a < 0 || b != 20 || c != 21 || d != 400)
			_exit(10);
		if (!closeFdsExcept({ 21, 400 }).ok())
			_exit(11);
		if (fcntl(a, F_GETFD) != -1 || fcntl(20, F_GETFD) != -1)
			_exit(12);
		if (fcntl(0, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0 || fcntl(21, F_GETFD) < 0 || fcntl(400, F_GETFD) < 0)
			_exit(13);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != 21 && fd != 400 && fcntl(fd, F_GETFD) != -1)
				_exit(14);
		_exit(0);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Fds, CheckOpenAndClearCloexec)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(checkFdOpen(fd).ok());
	EXPECT_TRUE(clearCloexec(fd).ok());
	EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	EXPECT_FALSE(checkFdOpen(fd).ok());
	EXPECT_FALSE(checkFdOpen(9999).ok());
}

TEST(Executable, ChecksRegularExecutableFiles)
{
	EXPECT_TRUE(checkExecutable("/bin/true").ok());
	EXPECT_FALSE(checkExecutable("/etc/passwd").ok());
	EXPECT_FALSE(checkExecutable("/etc").ok());
	EXPECT_FALSE(checkExecutable("/nonexistent").ok());
}

namespace {

class FakeXen final : public XenControl
{
public:
	explicit FakeXen(Result<DomainInfo> info) : info_(std::move(info)) {}
	Result<DomainInfo> domainInfo(uint32_t domid) override
	{
		asked_ = domid;
		return info_;
	}
	uint32_t asked_ = 0;

private:
	Result<DomainInfo> info_;
};

} /* namespace */

TEST(DomainCheck, AcceptsOnlyALiveDomain)
{
	FakeXen alive(DomainInfo{ true, false, false, 0 });
	EXPECT_TRUE(checkDomain(alive, 5).ok());
	EXPECT_EQ(alive.asked_, 5u);

	struct {
		Result<DomainInfo> info;
		const char *message;
	} cases[] = {
		{ DomainInfo{}, "domain 5 does not exist" },
		{ DomainInfo{ true, true, false, 0 }, "domain 5 is dying" },
		{ DomainInfo{ true, false, true, 2 }, "domain 5 is shut down" },
		{ makeError(EPERM, "Failed to query domain 5: Operation not permitted"), "Operation not permitted" },
	};
	for (auto &c : cases) {
		FakeXen xen(c.info);
		Status s = checkDomain(xen, 5);
		ASSERT_FALSE(s.ok()) << c.message;
		EXPECT_NE(s.error().message().find(c.message), std::string::npos) << s.error().message();
	}
}

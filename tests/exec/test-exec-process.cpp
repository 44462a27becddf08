/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The built qemu-dm-exec, run as a process: in front of fake-qemu (which
 * prints its argv and open descriptors), and in front of Debian's real Xen
 * QEMU on a host without a hypervisor.
 *
 * The DM uid is 4200005, outside every range the integration suites use: they
 * run in parallel, their test beds' DMs are visible in this host's /proc, and
 * qemu-dm-exec refuses a uid that owns processes (a bed's domain 5 is 131077).
 */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "qemu_probe.h"
#include "test_support.h"
#include "test_util.h"

using namespace std::string_literals;
using namespace qemudm;
using namespace qemudm::test;
namespace fs = std::filesystem;

extern char **environ;

namespace {

struct ExecRun {
	int exitCode = -1;
	std::string out;
	std::string err;

	std::vector<std::string> lines(const std::string &prefix) const
	{
		std::vector<std::string> v;
		size_t pos = 0;
		while (pos < out.size()) {
			size_t nl = out.find('\n', pos);
			std::string line = out.substr(pos, nl - pos);
			if (line.compare(0, prefix.size(), prefix) == 0)
				v.push_back(line.substr(prefix.size()));
			pos = nl == std::string::npos ? out.size() : nl + 1;
		}
		return v;
	}
	size_t errLines() const
	{
		size_t n = 0;
		for (char c : err)
			n += c == '\n';
		return n;
	}
};

std::string readAll(int fd)
{
	std::string s;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		s.append(buf, static_cast<size_t>(n));
	return s;
}

/* Run qemu-dm-exec with `args`; fds 7 and 9 are open (not CLOEXEC) in it.
 * `preExec` runs in the child right before execve(). */
ExecRun runExec(const std::vector<std::string> &args, const std::string &flavour = "7.2-xen",
		const std::function<void()> &preExec = {})
{
	const char *exe = std::getenv("QEMU_DM_EXEC");
	std::vector<std::string> env;
	for (char **e = environ; *e; e++) {
		std::string_view v(*e);
		if (v.rfind("JOURNAL_STREAM=", 0) == 0 || v.rfind("QEMU_DM_LOG", 0) == 0 ||
		    v.rfind("FAKE_QEMU_FLAVOUR=", 0) == 0)
			continue;
		env.emplace_back(v);
	}
	env.push_back("FAKE_QEMU_FLAVOUR=" + flavour);
	env.push_back("FAKE_QEMU_OWN_IDS=4200005:997");

	std::vector<char *> argv{ const_cast<char *>(exe) }, envp;
	for (const std::string &a : args)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);
	for (std::string &e : env)
		envp.push_back(e.data());
	envp.push_back(nullptr);

	int out[2], err[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return {};
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		dup2(null, 7);
		dup2(null, 9);
		if (preExec)
			preExec();
		execve(exe, argv.data(), envp.data());
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	ExecRun r;
	r.out = readAll(out[0]);
	r.err = readAll(err[0]);
	close(out[0]);
	close(err[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r;
}

class ExecProcess : public ::testing::Test
{
protected:
	void SetUp() override
	{
		if (!std::getenv("QEMU_DM_EXEC") || !std::getenv("FAKE_QEMU"))
			GTEST_SKIP() << "QEMU_DM_EXEC / FAKE_QEMU not set (run through meson test)";
		fake_ = std::getenv("FAKE_QEMU");
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_ / "root";
	}
	void needRoot()
	{
		if (geteuid() != 0)
			GTEST_SKIP() << "needs root (the chroot directory must be owned by uid 0)";
	}

	std::string fake_;
	qemudm::test::TempDir tmp_{ "qemu-dm-exec-proc" };
	fs::path root_;
};

} /* namespace */

TEST_F(ExecProcess, StandInGetsPrivilegeDropArgsAndOnlyKeptFds)
{
	needRoot();
	ExecRun r = runExec({ "--domid",
			      "5",
			      "--type",
			      "hvm",
			      "--runas",
			      "4200005:997",
			      "--chroot",
			      root_,
			      "--keep-fd",
			      "9",
			      "--no-domain-check",
			      "--probe-cache",
			      "none",
			      "--",
			      fake_,
			      "-machine",
			      "pc",
			      "-m",
			      "64",
			      "-display",
			      "none" },
			    "7.2-tcg");
	ASSERT_EQ(r.exitCode, 0) << r.err;
	EXPECT_EQ(r.lines("arg "), (std::vector<std::string>{ fake_, "-machine", "pc", "-m", "64", "-display", "none",
							      "-runas", "4200005:997", "-chroot", root_ }));
	EXPECT_EQ(r.lines("fd "), (std::vector<std::string>{ "0", "1", "2", "9" }));
	/* The credential filter reached QEMU: still root, it cannot take ids other than --runas's. */
	EXPECT_EQ(r.lines("cred "), (std::vector<std::string>{ "setgid-other EPERM", "setuid-other EPERM" }));
	EXPECT_NE(r.err.find("not adding -xen-domid-restrict"), std::string::npos) << r.err;
	EXPECT_TRUE(fs::is_directory(root_));
	EXPECT_EQ(fs::status(root_).permissions(), fs::perms::owner_exec);
}

TEST_F(ExecProcess, XenQemuGetsRestrictForPv)
{
	needRoot();
	ExecRun r =
	    runExec({ "--domid", "5", "--type", "pv", "--runas", "4200005:997", "--chroot", root_, "--no-domain-check",
		      "--probe-cache", "none", "--", fake_, "-xen-domid", "5", "-machine", "xenpv", "-S" });
	ASSERT_EQ(r.exitCode, 0) << r.err;
	EXPECT_EQ(r.lines("arg "),
		  (std::vector<std::string>{ fake_, "-xen-domid", "5", "-machine", "xenpv", "-S", "-xen-domid-restrict",
					     "-runas", "4200005:997", "-chroot", root_ }));
	EXPECT_EQ(r.lines("fd "), (std::vector<std::string>{ "0", "1", "2" }));
}

TEST_F(ExecProcess, Qemu91GetsRunWith)
{
	needRoot();
	ExecRun r =
	    runExec({ "--domid", "5", "--type", "pvh", "--runas", "4200005:997", "--chroot", root_, "--keep-fd", "7",
		      "--keep-fd", "9", "--no-domain-check", "--probe-cache", "none", "--", fake_, "-xen-domid", "5" },
		    "9.1");
	ASSERT_EQ(r.exitCode, 0) << r.err;
	EXPECT_EQ(r.lines("arg "),
		  (std::vector<std::string>{ fake_, "-xen-domid", "5", "-xen-domid-restrict", "-run-with",
					     "user=4200005:997,chroot=" + root_.string() }));
	EXPECT_EQ(r.lines("fd "), (std::vector<std::string>{ "0", "1", "2", "7", "9" }));
}

TEST_F(ExecProcess, ForeignRunasAndChrootAreReplacedAndLogged)
{
	needRoot();
	/* libxl 4.17's own privilege arguments, with a root -runas for good measure. */
	ExecRun r = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--chroot", root_,
			      "--no-domain-check", "--probe-cache", "none", "--", fake_, "-xen-domid", "5", "-chroot",
			      "/var/run/xen/qemu-root-5", "-runas", "0:0" });
	ASSERT_EQ(r.exitCode, 0) << r.err;
	EXPECT_EQ(r.lines("arg "), (std::vector<std::string>{ fake_, "-xen-domid", "5", "-chroot", root_.string(),
							      "-runas", "4200005:997", "-xen-domid-restrict" }));
	EXPECT_NE(r.err.find("Replaced the caller's -chroot /var/run/xen/qemu-root-5 -> " + root_.string()),
		  std::string::npos)
	    << r.err;
	EXPECT_NE(r.err.find("Replaced the caller's -runas 0:0 -> 4200005:997"), std::string::npos) << r.err;
}

TEST_F(ExecProcess, CredentialFilterThatCannotBeInstalledExits73)
{
	needRoot();
	/* Where seccomp(2) and prctl(PR_SET_SECCOMP) are refused, no filter can be loaded: QEMU must not run. */
	auto denySeccomp = [] {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp), 0) < 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 1,
				     SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP)) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(126);
		seccomp_release(ctx);
	};
	ExecRun r = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--chroot", root_,
			      "--no-domain-check", "--probe-cache", "none", "--", fake_, "-machine", "pc" },
			    "7.2-tcg", denySeccomp);
	EXPECT_EQ(r.exitCode, 73) << r.err;
	/* The last line says why; nothing claims the DM started. */
	EXPECT_NE(r.err.find("\nqemu-dm-exec: domain 5: Refusing to start the device model"), std::string::npos)
	    << r.err;
	EXPECT_EQ(r.err.find("Starting the"), std::string::npos) << r.err;
	EXPECT_NE(r.err.find("credential seccomp filter"), std::string::npos) << r.err;
	EXPECT_TRUE(r.lines("arg ").empty()) << r.out;
}

TEST_F(ExecProcess, UsageErrorsExit64WithOneLine)
{
	const std::vector<std::vector<std::string>> cases = {
		{ "--domid", "0", "--type", "hvm", "--runas", "4200005:997", "--", fake_ },
		{ "--domid", "5", "--type", "hvm", "--runas", "0:0", "--", fake_ },
		{ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--", "fake-qemu" },
		{ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--", "/etc/passwd" },
		{ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--keep-fd", "55", "--", fake_ },
		{ "--bogus" },
	};
	for (const auto &args : cases) {
		ExecRun r = runExec(args);
		EXPECT_EQ(r.exitCode, 64) << args[1] << ": " << r.err;
		EXPECT_EQ(r.errLines(), 1u) << r.err;
		EXPECT_EQ(r.err.rfind("qemu-dm-exec: Invalid command line", 0), 0u) << r.err;
		EXPECT_TRUE(r.out.empty());
	}
}

TEST_F(ExecProcess, HelpAndVersion)
{
	ExecRun h = runExec({ "--help" });
	EXPECT_EQ(h.exitCode, 0);
	EXPECT_EQ(h.out.rfind("Usage: qemu-dm-exec", 0), 0u);
	EXPECT_TRUE(h.err.empty());
	ExecRun v = runExec({ "--version" });
	EXPECT_EQ(v.exitCode, 0);
	EXPECT_EQ(v.out.rfind("qemu-dm-exec ", 0), 0u);
}

TEST_F(ExecProcess, ChrootProblemsExit69)
{
	needRoot();
	/* --chroot auto with no RuntimeDirectory: the hint says so. */
	ExecRun a = runExec({ "--domid", "32001", "--type", "hvm", "--runas", "4200005:997", "--no-domain-check",
			      "--probe-cache", "none", "--", fake_, "-xen-domid", "32001" });
	if (fs::exists("/run/qemu-dm/32001"))
		GTEST_SKIP() << "/run/qemu-dm/32001 exists on this host";
	EXPECT_EQ(a.exitCode, 69) << a.err;
	EXPECT_EQ(a.errLines(), 1u) << a.err;
	EXPECT_NE(a.err.find("RuntimeDirectory=qemu-dm/32001"), std::string::npos) << a.err;

	fs::create_directory(root_);
	fs::permissions(root_, fs::perms::owner_all | fs::perms::others_write, fs::perm_options::replace);
	ExecRun b = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--chroot", root_,
			      "--no-domain-check", "--probe-cache", "none", "--", fake_, "-xen-domid", "5" });
	EXPECT_EQ(b.exitCode, 69) << b.err;
	EXPECT_EQ(b.errLines(), 1u) << b.err;
	EXPECT_NE(b.err.find("writable by group or others"), std::string::npos) << b.err;
	EXPECT_TRUE(b.out.empty());
}

TEST_F(ExecProcess, BusyUidExit67)
{
	needRoot();
	constexpr uid_t busy = 131099;
	pid_t holder = fork();
	ASSERT_GE(holder, 0);
	if (holder == 0) {
		if (setresgid(997, 997, 997) < 0 || setresuid(busy, busy, busy) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	/* Wait until the holder has dropped to the uid. */
	for (int i = 0; i < 200; i++) {
		std::string status = "/proc/" + std::to_string(holder) + "/status";
		FILE *f = fopen(status.c_str(), "re");
		bool dropped = false;
		char line[256];
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "Uid:", 4) == 0 && strstr(line, "131099"))
				dropped = true;
		if (f)
			fclose(f);
		if (dropped)
			break;
		usleep(10000);
	}
	ExecRun r = runExec({ "--domid", "5", "--type", "hvm", "--runas", "131099:997", "--chroot", root_,
			      "--no-domain-check", "--probe-cache", "none", "--", fake_, "-xen-domid", "5" });
	kill(holder, SIGKILL);
	waitpid(holder, nullptr, 0);
	EXPECT_EQ(r.exitCode, 67) << r.err;
	EXPECT_NE(r.err.find("uid 131099 already owns process " + std::to_string(holder)), std::string::npos) << r.err;
	EXPECT_TRUE(r.out.empty());
}

/* Inside a DM's unit nothing persistent is ever written: a cache directory is read, never filled. */
TEST_F(ExecProcess, ProbeCacheIsNeverWritten)
{
	needRoot();
	fs::path cache = tmp_ / "cache";
	fs::create_directory(cache);
	fs::permissions(cache, fs::perms::owner_all, fs::perm_options::replace);
	std::vector<std::string> args = { "-v",
					  "--domid",
					  "5",
					  "--type",
					  "hvm",
					  "--runas",
					  "4200005:997",
					  "--chroot",
					  root_,
					  "--no-domain-check",
					  "--probe-cache",
					  cache,
					  "--",
					  fake_,
					  "-xen-domid",
					  "5" };
	ExecRun first = runExec(args);
	ASSERT_EQ(first.exitCode, 0) << first.err;
	ExecRun second = runExec(args);
	ASSERT_EQ(second.exitCode, 0) << second.err;
	EXPECT_EQ(second.err.find("(cached)"), std::string::npos) << second.err;
	EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 0);
	EXPECT_EQ(first.out, second.out);
}

/*
 * The caller's probe (--qemu-caps) decides while QEMU is the binary it
 * probed. The binary here answers like a TCG-only QEMU (no Xen accelerator):
 * a word saying "Xen QEMU 7.2" gets -xen-domid-restrict added, so the word
 * was used; with another binary identity qemu-dm-exec probes again and
 * believes the binary, not the word.
 */
TEST_F(ExecProcess, CallerCapsBindToTheBinarysIdentity)
{
	needRoot();
	auto id = identifyQemu(fake_);
	ASSERT_TRUE(id.ok()) << id.error().message();
	auto run = [&](const QemuBinaryId &wordId) {
		return runExec({ "-v", "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--chroot", root_,
				 "--no-domain-check", "--qemu-caps", encodeQemuCaps(wordId, fakeCaps("7.2-xen")), "--",
				 fake_, "-xen-domid", "5" },
			       "7.2-tcg");
	};
	ExecRun same = run(*id);
	ASSERT_EQ(same.exitCode, 0) << same.err;
	EXPECT_NE(same.err.find("(probed by the caller)"), std::string::npos) << same.err;
	EXPECT_EQ(same.lines("arg "), (std::vector<std::string>{ fake_, "-xen-domid", "5", "-xen-domid-restrict",
								 "-runas", "4200005:997", "-chroot", root_ }));

	QemuBinaryId other = *id;
	other.ctimeNs += 1;
	ExecRun changed = run(other);
	ASSERT_EQ(changed.exitCode, 0) << changed.err;
	EXPECT_NE(changed.err.find("changed since the caller probed it"), std::string::npos) << changed.err;
	EXPECT_EQ(changed.lines("arg "),
		  (std::vector<std::string>{ fake_, "-xen-domid", "5", "-runas", "4200005:997", "-chroot", root_ }));

	ExecRun bad = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--no-domain-check",
				"--qemu-caps", "3/x", "--", fake_ });
	EXPECT_EQ(bad.exitCode, 64) << bad.err;
	EXPECT_NE(bad.err.find("--qemu-caps"), std::string::npos) << bad.err;
}

TEST_F(ExecProcess, RealXenQemuWithoutHypervisorExits66)
{
	const char *xenQemu = "/usr/libexec/xen-qemu-system-i386";
	if (access(xenQemu, X_OK) != 0)
		GTEST_SKIP() << xenQemu << " not installed (apt-get install qemu-system-xen)";
	if (access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/privcmd", F_OK) == 0)
		GTEST_SKIP() << "this host has a Xen control interface";
	ExecRun r = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--", xenQemu, "-xen-domid",
			      "5", "-machine", "xenfv" });
	EXPECT_EQ(r.exitCode, 66) << r.err;
	EXPECT_EQ(r.err, "qemu-dm-exec: Failed to open the Xen control interface: no hypervisor? (is this dom0?)\n");
	EXPECT_TRUE(r.out.empty());
}

TEST_F(ExecProcess, FdsWithoutAChannelExit72BeforeAnyCheck)
{
	/* --fd declares an fd channel on stdin; here stdin is /dev/null: one line naming the domain, exit 72. */
	ExecRun r = runExec({ "--domid", "5", "--type", "hvm", "--runas", "4200005:997", "--no-domain-check", "--fd",
			      "12:socket", "--", fake_ });
	EXPECT_EQ(r.exitCode, 72) << r.err;
	EXPECT_EQ(r.errLines(), 1u) << r.err;
	EXPECT_NE(r.err.find("domain 5: Failed to receive the caller's fds: fd channel: Failed to receive: "
			     "Socket operation on non-socket"),
		  std::string::npos)
	    << r.err;
	EXPECT_TRUE(r.out.empty()) << "QEMU never ran";
}

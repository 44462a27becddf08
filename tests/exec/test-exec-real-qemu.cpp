/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Issue 10, class 3: what qemu-dm-exec decides about the user and the root
 * is what the real QEMU does. For every form a caller can give -runas and
 * -chroot in (decimal, octal, hex, signs, spaces, a missing gid, user names,
 * a numeric name, repeats, the double-dash spelling), the built qemu-dm-exec
 * runs Debian's real qemu-system-i386 (TCG; the same os-posix.c parsing as
 * the Xen QEMU, /usr/libexec/xen-qemu-system-i386, which without a hypervisor
 * exits at accelerator selection, before it applies -runas or -chroot), and
 * the test reads the running QEMU's argv (/proc/PID/cmdline: what qemu-dm-exec
 * exec'd), its credentials (/proc/PID/status) and its root (/proc/PID/root).
 *
 * The user names come from a private /etc/passwd and /etc/group, bind-mounted
 * in a mount namespace of the child only: qemu-dm-exec and QEMU both look them
 * up there, the host's files are untouched.
 *
 * The DM uid is 4200005, outside every range the integration suites use (see
 * test-exec-process.cpp).
 */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec_args.h"
#include "test_support.h"
#include "test_util.h"

using namespace std::string_literals;
namespace fs = std::filesystem;
using qemudm::test::procStatusField;
using qemudm::test::slurp;

extern char **environ;

namespace {

/* The binary itself: /usr/bin/qemu-system-i386 is Debian's shell wrapper that
 * sends -xen-* invocations to the Xen build and execs this one otherwise. */
constexpr const char *kQemu = "/usr/libexec/qemu-system-i386";
constexpr const char *kOurs = "4200005:997";

/* What the running QEMU ended up with, or how it ended. */
struct QemuState {
	bool running = false;
	int exitCode = -1; /* when it did not stay running */
	std::vector<std::string> argv;
	std::string uid, gid, groups; /* the /proc/PID/status lines, without the key */
	bool rootIsChroot = false;
	std::string log; /* qemu-dm-exec's and QEMU's stderr */
};

class ExecRealQemu : public ::testing::Test
{
protected:
	void SetUp() override
	{
		/* With CI=true a test that cannot run is a failure, never a skip. */
		const char *ci = std::getenv("CI");
		const bool strict = ci && std::string(ci) == "true";
		std::string missing;
		if (!std::getenv("QEMU_DM_EXEC"))
			missing = "QEMU_DM_EXEC not set (run through meson test)";
		else if (geteuid() != 0)
			missing = "needs root (QEMU drops from root; the chroot directory is root's)";
		else if (access(kQemu, X_OK) != 0)
			missing = kQemu + " not installed (apt-get install qemu-system-x86)"s;
		if (!missing.empty()) {
			if (strict)
				FAIL() << missing;
			GTEST_SKIP() << missing;
		}
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_ / "root";
		/* The host's users plus ours: dmuser is the DM's uid:gid with a
		 * supplementary group, "4200005" a numeric name of another uid,
		 * dmother another uid. */
		std::ofstream(tmp_ / "passwd") << slurp("/etc/passwd")
					       << "dmuser:x:4200005:997::/nonexistent:/usr/sbin/nologin\n"
						  "4200005:x:4200007:997::/nonexistent:/usr/sbin/nologin\n"
						  "dmother:x:4200008:4200008::/nonexistent:/usr/sbin/nologin\n";
		std::ofstream(tmp_ / "group") << slurp("/etc/group") << "dmextra:x:4200100:dmuser\n";
	}

	/* qemu-dm-exec --runas 4200005:997 --chroot ROOT -- qemu-system-i386 ... EXTRA */
	QemuState run(const std::vector<std::string> &extra)
	{
		std::vector<std::string> args = { std::getenv("QEMU_DM_EXEC"),
						  "--domid",
						  "5",
						  "--type",
						  "hvm",
						  "--runas",
						  kOurs,
						  "--chroot",
						  root_.string(),
						  "--no-domain-check",
						  "--probe-cache",
						  "none",
						  "--",
						  kQemu,
						  "-S",
						  "-display",
						  "none",
						  "-nodefaults",
						  "-machine",
						  "none" };
		args.insert(args.end(), extra.begin(), extra.end());
		return spawn(args);
	}

	/* Run args[0] with the test's users and wait until it runs as non-root, or ends. */
	QemuState spawn(std::vector<std::string> args)
	{
		std::vector<char *> argv;
		for (std::string &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		const std::string log = (tmp_ / "log").string(), passwd = (tmp_ / "passwd").string(),
				  group = (tmp_ / "group").string();

		pid_t pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);
			int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (null < 0 || out < 0 || unshare(CLONE_NEWNS) < 0 ||
			    mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
			    mount(passwd.c_str(), "/etc/passwd", nullptr, MS_BIND, nullptr) < 0 ||
			    mount(group.c_str(), "/etc/group", nullptr, MS_BIND, nullptr) < 0)
				_exit(126);
			dup2(null, 0);
			dup2(out, 1);
			dup2(out, 2);
			execve(argv[0], argv.data(), environ);
			_exit(127);
		}
		QemuState st;
		if (pid < 0)
			return st;
		const fs::path proc = "/proc/" + std::to_string(pid);
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
		int wstatus = 0;
		while (std::chrono::steady_clock::now() < deadline) {
			if (waitpid(pid, &wstatus, WNOHANG) == pid) {
				st.exitCode = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
				st.log = slurp(log);
				return st;
			}
			/* QEMU drops to the user after the machine is set up (os_setup_post);
			 * with -S it then sits. */
			std::string status = "\n" + slurp(proc / "status");
			std::string uid = procStatusField(status, "Uid");
			if (!uid.empty() && uid.rfind("0\t", 0) != 0) {
				st.running = true;
				st.uid = uid;
				st.gid = procStatusField(status, "Gid");
				st.groups = procStatusField(status, "Groups");
				std::string cmdline = slurp(proc / "cmdline");
				for (size_t p = 0; p < cmdline.size();) {
					size_t nul = cmdline.find('\0', p);
					st.argv.push_back(cmdline.substr(p, nul - p));
					p = nul == std::string::npos ? cmdline.size() : nul + 1;
				}
				struct stat a {
				}, b{};
				st.rootIsChroot = stat((proc / "root").c_str(), &a) == 0 &&
						  stat(root_.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
						  a.st_ino == b.st_ino;
				break;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		kill(pid, SIGKILL);
		waitpid(pid, &wstatus, 0);
		st.log = slurp(log);
		return st;
	}

	/* The caller's QEMU arguments `given` become `execd` (what qemu-dm-exec
	 * decided), and the running QEMU is the DM user, in the DM root. */
	void expectDm(const std::vector<std::string> &given, const std::vector<std::string> &execd)
	{
		SCOPED_TRACE(fmt(given));
		QemuState st = run(given);
		ASSERT_TRUE(st.running) << "exit " << st.exitCode << ": " << st.log;
		std::vector<std::string> want = { kQemu, "-S", "-display", "none", "-nodefaults", "-machine", "none" };
		want.insert(want.end(), execd.begin(), execd.end());
		EXPECT_EQ(st.argv, want) << st.log;
		EXPECT_EQ(st.uid, "4200005\t4200005\t4200005\t4200005") << st.log;
		EXPECT_EQ(st.gid, "997\t997\t997\t997") << st.log;
		EXPECT_EQ(st.groups, "997")
		    << "[" << st.groups << "] no supplementary group beyond the DM's gid: " << st.log;
		EXPECT_TRUE(st.rootIsChroot) << st.log;
	}

	static std::string fmt(const std::vector<std::string> &v)
	{
		std::string s;
		for (const std::string &a : v)
			s += (s.empty() ? "" : " ") + ("'" + a + "'");
		return s;
	}

	qemudm::test::TempDir tmp_{ "qemu-dm-exec-real" };
	fs::path root_;
};

} /* namespace */

/* Without the test's own argument: qemu-dm-exec adds both and QEMU applies them. */
TEST_F(ExecRealQemu, AddedRunasAndChrootAreApplied)
{
	expectDm({}, { "-runas", kOurs, "-chroot", root_.string() });
}

/* Forms QEMU reads as the DM's uid:gid (strtoul base 0): kept, and QEMU agrees. */
TEST_F(ExecRealQemu, NumericFormsQemuReadsAsOursAreKept)
{
	const std::string root = root_.string();
	for (const std::string &form : { "4200005:997"s, "020013105:01745"s, "0x401645:0x3e5"s, "0X401645:997"s })
		expectDm({ "-runas", form, "-chroot", root }, { "-runas", form, "-chroot", root });
}

/*
 * Forms QEMU reads as another user, refuses, or that hinge on strtoul's
 * sign and space handling or on the user database: replaced by the DM's
 * uid:gid, and QEMU runs as that.
 */
TEST_F(ExecRealQemu, OtherFormsAreReplacedByOurs)
{
	const std::string root = root_.string();
	for (const std::string &form :
	     { "04200005:997"s, /* octal: 1114117 */
	       "0:0"s, "4200005:0"s, "+4200005:997"s, " 4200005:997"s, "4200005: 997"s, "-4200005:997"s, "4200005:"s,
	       "4200005"s, /* a numeric name: QEMU's getpwnam finds uid 4200007 */
	       "4200005:997 "s, "dmother"s, "root"s, "nosuchuser"s,
	       "dmuser"s /* our uid:gid by name, but QEMU would initgroups() it into dmextra */ }) {
		expectDm({ "-runas", form, "-chroot", root }, { "-runas", kOurs, "-chroot", root });
		EXPECT_NE(slurp(tmp_ / "log").find("Replaced the caller's -runas " + form + " -> " + kOurs),
			  std::string::npos)
		    << form << ": " << slurp(tmp_ / "log");
	}
}

/* QEMU acts on the last -runas / -chroot, and on a user name's first getpwnam(): every one is ours. */
TEST_F(ExecRealQemu, RepeatedOptionsAreAllOurs)
{
	const std::string root = root_.string();
	expectDm({ "-runas", "dmother", "-runas", kOurs, "-chroot", root },
		 { "-runas", kOurs, "-runas", kOurs, "-chroot", root });
	expectDm({ "-runas", "dmuser", "-runas", kOurs, "-chroot", root },
		 { "-runas", kOurs, "-runas", kOurs, "-chroot", root });
	expectDm({ "-runas", kOurs, "-runas", "0:0", "-chroot", root },
		 { "-runas", kOurs, "-runas", kOurs, "-chroot", root });
	expectDm({ "-runas", kOurs, "-chroot", "/tmp", "-chroot", root },
		 { "-runas", kOurs, "-chroot", root, "-chroot", root });
	expectDm({ "-runas", kOurs, "-chroot", root, "-chroot", "/" },
		 { "-runas", kOurs, "-chroot", root, "-chroot", root });
	/* A trailing slash names the same directory to chroot(2). */
	expectDm({ "-runas", kOurs, "-chroot", root + "/" }, { "-runas", kOurs, "-chroot", root + "/" });
	/* QEMU takes the double-dash spelling too. */
	expectDm({ "--runas", "0:0", "--chroot", "/tmp" }, { "--runas", kOurs, "--chroot", root });
}

/* QEMU 7.2 has no -run-with: qemu-dm-exec refuses it (one line, exit 68), QEMU never runs. */
TEST_F(ExecRealQemu, RunWithIsRefusedFor72)
{
	for (const std::string &v : { "user=0:0"s, "chroot=/tmp"s, "user="s + kOurs }) {
		QemuState st = run({ "-run-with", v });
		EXPECT_FALSE(st.running) << v;
		EXPECT_EQ(st.exitCode, 68) << v << ": " << st.log;
		EXPECT_NE(st.log.find("-run-with, which "s + kQemu + " (QEMU 7.2"), std::string::npos) << st.log;
		EXPECT_EQ(std::count(st.log.begin(), st.log.end(), '\n'), 1) << st.log;
	}
}

/*
 * Why a user name that names the DM's uid:gid is replaced all the same: the
 * real QEMU gives a name its supplementary groups (initgroups), here dmextra,
 * which qemu-dm never chose. (Under qemu-dm-exec QEMU resolves them after its
 * chroot into the empty directory, so it happens to find none; qemu-dm does
 * not rely on that.) QEMU run directly, without qemu-dm-exec and -chroot.
 */
TEST_F(ExecRealQemu, QemuGivesANamedUserItsSupplementaryGroups)
{
	QemuState st =
	    spawn({ kQemu, "-S", "-display", "none", "-nodefaults", "-machine", "none", "-runas", "dmuser" });
	ASSERT_TRUE(st.running) << "exit " << st.exitCode << ": " << st.log;
	EXPECT_EQ(st.uid, "4200005\t4200005\t4200005\t4200005");
	EXPECT_EQ(st.gid, "997\t997\t997\t997");
	EXPECT_EQ(st.groups, "997 4200100");
}

/*
 * How the real QEMU 7.2 itself reads each -runas form (run directly, no
 * qemu-dm-exec, no -chroot): the uid:gid it ends up with, or its refusal.
 * qemu-dm-exec's keep-or-replace (rewriteQemuArgv) must keep a form only
 * when QEMU reads it as our ids, and its replacement is always read as ours.
 * The Xen build, xen-qemu-system-i386, exits without a hypervisor before it
 * applies -runas ("No accelerator selected"), but parses -runas first with the
 * same code: it refuses exactly the forms the TCG build refuses.
 */
TEST_F(ExecRealQemu, QemuReadsEachRunasFormAsExpected)
{
	struct Form {
		std::string value;
		std::string reads; /* "UID:GID", or "" when QEMU refuses it */
	};
	const Form forms[] = {
		{ "4200005:997", "4200005:997" },
		{ "020013105:01745", "4200005:997" },
		{ "0x401645:0x3e5", "4200005:997" },
		{ "0X401645:997", "4200005:997" },
		{ "04200005:997", "1114117:997" },
		{ "+4200005:997", "4200005:997" },
		{ " 4200005:997", "4200005:997" },
		{ "4200005: 997", "4200005:997" },
		{ "4200005:+997", "4200005:997" },
		{ "dmuser", "4200005:997" },
		{ "4200005", "4200007:997" }, /* the numeric name */
		{ "dmother", "4200008:4200008" },
		{ "-4200005:997", "" },
		{ "4200005:-997", "" },
		{ "4200005:", "" },
		{ ":997", "" },
		{ "4200005:997 ", "" },
		{ "4200005:997:1", "" },
		{ "4299167301:997", "" }, /* 2^32 + 4200005: past 32 bits */
		{ "08:997", "" },
		{ "0x:997", "" },
		{ "nosuchuser", "" },
	};
	const char *xenQemu = "/usr/libexec/xen-qemu-system-i386";
	const bool haveXen = access(xenQemu, X_OK) == 0 && access("/dev/xen/privcmd", F_OK) != 0;
	qemudm::ExecOptions o;
	o.domid = 5;
	o.runas = { 4200005, 997 };
	o.chrootDir = root_.string();
	o.domainCheck = false;
	const qemudm::QemuCaps caps = qemudm::test::fakeCaps("7.2-tcg");
	for (const Form &f : forms) {
		SCOPED_TRACE("-runas '" + f.value + "'");
		QemuState st =
		    spawn({ kQemu, "-S", "-display", "none", "-nodefaults", "-machine", "none", "-runas", f.value });
		std::string reads;
		if (st.running) {
			reads = st.uid.substr(0, st.uid.find('\t')) + ":" + st.gid.substr(0, st.gid.find('\t'));
		} else {
			EXPECT_EQ(st.exitCode, 1) << st.log;
			EXPECT_NE(st.log.find("doesn't exist (and is not <uid>:<gid>)"), std::string::npos) << st.log;
		}
		EXPECT_EQ(reads, f.reads) << st.log;

		o.qemuArgv = { kQemu, "-runas", f.value };
		auto plan = qemudm::rewriteQemuArgv(o, caps);
		ASSERT_TRUE(plan.ok()) << plan.error().message();
		if (plan->argv.at(2) == f.value)
			EXPECT_EQ(reads, kOurs) << "qemu-dm-exec keeps a form QEMU reads otherwise";
		else
			EXPECT_EQ(plan->argv.at(2), kOurs);

		if (haveXen) {
			QemuState x = spawn({ xenQemu, "-S", "-display", "none", "-nodefaults", "-machine", "none",
					      "-runas", f.value });
			EXPECT_FALSE(x.running) << x.log;
			EXPECT_EQ(x.exitCode, 1) << x.log;
			EXPECT_NE(x.log.find(f.reads.empty() ? "doesn't exist (and is not <uid>:<gid>)"
							     : "No accelerator selected"),
				  std::string::npos)
			    << x.log;
		}
	}
}

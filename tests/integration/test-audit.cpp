/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * `qemu-dmctl audit` in a real (private) systemd: the stand-in DM under the
 * full policy passes every /proc check and says honestly that it has no Xen
 * fds; a deliberately unconfined root process fails, with the checks named;
 * an audit that cannot run exits 2. The Xen fd probes need real Xen: they are
 * proven in the lab (tests/lab), their verdicts are unit-tested.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain.h"
#include "json.h"
#include "testbed_fixture.h"

using namespace qemudm;
using namespace qemudm::testbed;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

class AuditTest : public TestBedSuite
{
protected:
	static void SetUpTestSuite()
	{
		TestBedSuite::SetUpTestSuite();
		if (!hasBed())
			return;
		addRangeBaseUser("useradd --system --no-create-home --uid 4242 --user-group dmuser-a");
	}

	void TearDown() override
	{
		if (!hasBed())
			return;
		(void)bed().sh(
		    "for u in $(systemctl list-units --all --plain --no-legend 'qemu-dm@*' "
		    "'audit-unconfined*' | awk '{print $1}'); do systemctl kill -s KILL $u; "
		    "systemctl stop $u; systemctl reset-failed $u; done 2>/dev/null; "
		    "rm -rf /run/xenstored /var/log/journal/audit-unconfined.log /tmp/audit-unconfined-stdin; "
		    "true");
	}

	CommandResult ctl(const std::vector<std::string> &args)
	{
		std::vector<std::string> argv = { "qemu-dmctl" };
		argv.insert(argv.end(), args.begin(), args.end());
		auto r = bed().run(argv, std::chrono::seconds(90));
		EXPECT_TRUE(r.ok()) << r.error().message();
		return r.ok() ? *r : CommandResult{};
	}

	/* Started, and past the privilege drop (it prints this line right after it). */
	void startStandin(uint32_t domid, const std::vector<std::string> &extra = {})
	{
		std::vector<std::string> args = { "start", std::to_string(domid), "--no-domain-check", "--", kStandin };
		args.insert(args.end(), extra.begin(), extra.end());
		auto r = ctl(args);
		ASSERT_TRUE(r.ok()) << r.err;
		ASSERT_TRUE(waitUntil([&] {
			auto j =
			    bed().run({ "journalctl", "--no-pager", "-o", "cat", fmt::format("XEN_DOMID={}", domid) });
			return j.ok() && j->out.find("dm-standin: running as uid") != std::string::npos;
		})) << bed().journal(dmUnitName(domid));
	}
};

/* Every /proc check a confined DM must pass, by name. */
const std::vector<std::string> kProcChecks = {
	"uids",		 "gids",	   "capabilities",    "NoNewPrivs",
	"seccomp",	 "root directory", "mount namespace", "network namespace",
	"IPC namespace", "UTS namespace",  "RLIMIT_CORE",     "cgroup",
	"fd 0"
};

} /* namespace */

TEST_F(AuditTest, StandinUnitPassesTheProcChecksAndHasNoXenFds)
{
	startStandin(5);
	auto r = ctl({ "audit", "5" });
	EXPECT_EQ(r.exitStatus, 0) << r.out << r.err;
	EXPECT_THAT(r.out, HasSubstr("Audit of qemu-dm@5.service (domain 5): 1 process\n"));
	EXPECT_THAT(r.out, HasSubstr("(dm-standin)\n"));
	for (const auto &check : kProcChecks)
		EXPECT_THAT(r.out, ContainsRegex("\n  PASS  " + check + " +: ")) << check << "\n" << r.out;
	EXPECT_THAT(r.out, ContainsRegex("PASS  uids +: real/effective/saved/fs uid 131077: the per-domain uid of "
					 "domain 5"));
	EXPECT_THAT(r.out, ContainsRegex("PASS  cgroup +: /qemu.slice/qemu-dm.slice/qemu-dm@5.service: reaped"));
	/* No Xen in the bed: said so, not passed. */
	EXPECT_THAT(r.out, ContainsRegex("INFO  Xen fds +: no Xen fds"));
	EXPECT_THAT(r.out, Not(HasSubstr("privcmd fd")));
	EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
	EXPECT_THAT(r.out, HasSubstr("Result: PASS ("));

	auto j = ctl({ "audit", "5", "--json" });
	EXPECT_EQ(j.exitStatus, 0) << j.err;
	auto v = json::parse(j.out, { 1 << 20, 16 });
	ASSERT_TRUE(v.ok()) << v.error().message() << "\n" << j.out;
	EXPECT_EQ(*v->find("result")->asString(), "pass");
	EXPECT_EQ(v->find("domid")->asUint32(), 5u);
	const auto &procs = v->find("processes")->items();
	ASSERT_EQ(procs.size(), 1u);
	EXPECT_EQ(std::to_string(*procs[0].find("pid")->asInt64()), show("qemu-dm@5.service", "MainPID"));
	size_t passed = 0;
	for (const auto &c : procs[0].find("checks")->items()) {
		const std::string &verdict = *c.find("verdict")->asString();
		EXPECT_THAT(verdict, ::testing::AnyOf("pass", "info")) << *c.find("name")->asString();
		passed += verdict == "pass";
	}
	EXPECT_GE(passed, kProcChecks.size());

	/* Auditing leaves the DM running and undisturbed. */
	EXPECT_EQ(show("qemu-dm@5.service", "ActiveState"), "active");
	EXPECT_TRUE(ctl({ "stop", "5" }).ok());
}

TEST_F(AuditTest, DeviceModelUserIsHeldToThatUser)
{
	startStandin(14, {});
	auto perDomain = ctl({ "audit", "14" });
	EXPECT_EQ(perDomain.exitStatus, 0) << perDomain.out;
	EXPECT_TRUE(ctl({ "stop", "14" }).ok());

	auto r = ctl({ "start", "14", "--no-domain-check", "--user", "dmuser-a", "--", kStandin });
	ASSERT_TRUE(r.ok()) << r.err;
	ASSERT_TRUE(waitUntil([&] {
		auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "XEN_DOMID=14" });
		return j.ok() && j->out.find("dm-standin: running as uid 4242") != std::string::npos;
	})) << bed().journal("qemu-dm@14.service");
	auto a = ctl({ "audit", "14" });
	EXPECT_EQ(a.exitStatus, 0) << a.out << a.err;
	/* The root model names the device_model_user; never-root (the default) the unit's --runas. */
	EXPECT_THAT(a.out,
		    ContainsRegex("PASS  uids +: real/effective/saved/fs uid 4242: (device_model_user dmuser-a|the "
				  "uid of the unit's --runas 4242:)"));
	EXPECT_TRUE(ctl({ "stop", "14" }).ok());
}

/* `qemu-dmctl stop N; qemu-dmctl start N` works every time: a start right after a stop never finds the old unit. */
TEST_F(AuditTest, StartRightAfterStopWorksEveryTime)
{
	startStandin(16, {});
	for (int i = 0; i < 25; i++) {
		auto stop = ctl({ "stop", "16" });
		ASSERT_TRUE(stop.ok()) << "round " << i << ": " << stop.err;
		auto start = ctl({ "start", "16", "--no-domain-check", "--", kStandin });
		ASSERT_TRUE(start.ok()) << "round " << i << ": " << start.err;
	}
	EXPECT_EQ(show("qemu-dm@16.service", "ActiveState"), "active");
	EXPECT_TRUE(ctl({ "stop", "16" }).ok());
}

TEST_F(AuditTest, AUnitThatDeclaresTheHostNetworkIsNotFailedForIt)
{
	/* --tap: emulated NICs need the host network namespace (PrivateNetwork=no); that is reported, not failed. */
	useRootModel(); /* QEMU creates the tap: the root model serves it, never-root refuses it */
	startStandin(15, {});
	ASSERT_TRUE(ctl({ "stop", "15" }).ok());
	auto r = ctl({ "start", "15", "--no-domain-check", "--tap", "vif15.0-emu", "--", kStandin });
	ASSERT_TRUE(r.ok()) << r.err;
	ASSERT_EQ(show("qemu-dm@15.service", "PrivateNetwork"), "no");
	auto a = ctl({ "audit", "15" });
	EXPECT_EQ(a.exitStatus, 0) << a.out << a.err;
	EXPECT_THAT(a.out, ContainsRegex("INFO  network namespace +: the host's \\(net:\\[[0-9]+\\]\\): the unit "
					 "declares the host network \\(PrivateNetwork=no\\)"));
	EXPECT_THAT(a.out, ContainsRegex("PASS  mount namespace +: "));
	EXPECT_TRUE(ctl({ "stop", "15" }).ok());
	useRootModel(false);
}

TEST_F(AuditTest, EveryProcessOfTheUnitIsAudited)
{
	startStandin(7, { "-behave", "fork100" });
	ASSERT_TRUE(waitUntil(
	    [&] {
		    auto n = bed().sh("ps -e -o uid= | awk '$1 == 131079' | wc -l");
		    return n.ok() && std::atoi(n->out.c_str()) >= 101;
	    },
	    std::chrono::seconds(20)));
	auto r = ctl({ "audit", "7" });
	EXPECT_EQ(r.exitStatus, 0) << r.out << r.err;
	EXPECT_THAT(r.out, HasSubstr("Audit of qemu-dm@7.service (domain 7): 101 processes\n"));
	/* The escaped children are held to the same rules as the main process. */
	size_t cgroupPasses = 0;
	for (size_t at = 0; (at = r.out.find("PASS  cgroup", at)) != std::string::npos; at++)
		cgroupPasses++;
	EXPECT_EQ(cgroupPasses, 101u);
	EXPECT_TRUE(ctl({ "stop", "7" }).ok());
}

TEST_F(AuditTest, UnconfinedRootProcessFailsWithTheChecksNamed)
{
	/*
	 * Root, no sandbox, in PID 1's namespaces; stdin writable, a log under
	 * /var/log open read-write, and a connection to (a stand-in for)
	 * xenstored's socket.
	 */
	const std::string script = R"PY(
import os, socket, time
os.makedirs("/run/xenstored", exist_ok=True)
srv = socket.socket(socket.AF_UNIX)
srv.bind("/run/xenstored/socket")
srv.listen(1)
cli = socket.socket(socket.AF_UNIX)
cli.connect("/run/xenstored/socket")
conn, _ = srv.accept()
log = os.open("/var/log/journal/audit-unconfined.log", os.O_RDWR | os.O_CREAT, 0o600)
os.dup2(os.open("/tmp/audit-unconfined-stdin", os.O_RDWR | os.O_CREAT, 0o600), 0)
os.set_inheritable(0, True)
print("ready", flush=True)
time.sleep(1000)
)PY";
	ASSERT_TRUE(bed().writeFile("/run/audit-unconfined.py", script).ok());
	auto start = bed().run(
	    { "systemd-run", "--unit=audit-unconfined.service", "--collect", "python3", "/run/audit-unconfined.py" });
	ASSERT_TRUE(start.ok() && start->ok()) << (start.ok() ? start->err : start.error().message());
	ASSERT_TRUE(waitUntil([&] {
		auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "-u", "audit-unconfined.service" });
		return j.ok() && j->out.find("ready") != std::string::npos;
	})) << bed().journal("audit-unconfined.service");
	std::string pid = show("audit-unconfined.service", "MainPID");
	ASSERT_NE(pid, "0");

	auto r = ctl({ "audit", "--pid", pid });
	EXPECT_EQ(r.exitStatus, 1) << r.out << r.err;
	EXPECT_THAT(r.out, HasSubstr(fmt::format("Audit of pid {}: 1 process\n", pid)));
	for (const std::string check :
	     { "uids", "gids", "capabilities", "NoNewPrivs", "seccomp", "root directory", "mount namespace",
	       "network namespace", "IPC namespace", "UTS namespace", "fd 0" })
		EXPECT_THAT(r.out, ContainsRegex("\n  FAIL  " + check + " +: ")) << check << "\n" << r.out;
	EXPECT_THAT(r.out, ContainsRegex("FAIL  uids +: real/effective/saved/fs uid 0/0/0/0"));
	EXPECT_THAT(r.out, ContainsRegex("FAIL  root directory +: the process's root is the host's /"));
	EXPECT_THAT(r.out, ContainsRegex("FAIL  fd 0 +: /tmp/audit-unconfined-stdin is open for writing"));
	EXPECT_THAT(r.out, ContainsRegex("FAIL  log fd [0-9]+ +: /var/log/journal/audit-unconfined.log is open "
					 "read-write without O_APPEND"));
	EXPECT_THAT(r.out, ContainsRegex("WARN  xenstore fd [0-9]+ +: a socket connected to /run/xenstored/socket"));
	/* Not a unit of ours: the cgroup is reported, not judged. */
	EXPECT_THAT(r.out, ContainsRegex("INFO  cgroup +: /system.slice/audit-unconfined.service"));
	EXPECT_THAT(r.out, HasSubstr("Result: FAIL ("));

	auto j = ctl({ "audit", "--pid", pid, "--json" });
	EXPECT_EQ(j.exitStatus, 1);
	EXPECT_THAT(j.out, HasSubstr("\"result\":\"fail\""));
	EXPECT_THAT(j.out, HasSubstr("{\"name\":\"NoNewPrivs\",\"verdict\":\"fail\""));
	/* Audited, not disturbed. */
	EXPECT_EQ(show("audit-unconfined.service", "ActiveState"), "active");
}

TEST_F(AuditTest, TapsMustBeTheDomainsOwn)
{
	/* A process of "domain 5" (by its -xen-domid) holding its own tap and another domain's. */
	const std::string script = R"PY(
import fcntl, os, struct, sys, time
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454ca, 0x0002, 0x1000
fds = []
for name in ("vif5.0-emu", "vif6.0-emu"):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    fds.append(fd)
print("ready", " ".join(map(str, fds)), flush=True)
time.sleep(1000)
)PY";
	ASSERT_TRUE(bed().writeFile("/run/audit-taps.py", script).ok());
	auto start = bed().run({ "systemd-run", "--unit=audit-unconfined-taps.service", "--collect", "python3",
				 "/run/audit-taps.py", "-xen-domid", "5" });
	ASSERT_TRUE(start.ok() && start->ok()) << (start.ok() ? start->err : start.error().message());
	std::string ready;
	ASSERT_TRUE(waitUntil([&] {
		auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "-u", "audit-unconfined-taps.service" });
		if (!j.ok() || j->out.find("ready ") == std::string::npos)
			return false;
		ready = j->out.substr(j->out.find("ready ") + 6);
		return true;
	})) << bed().journal("audit-unconfined-taps.service");
	int own = std::atoi(ready.c_str());
	int other = std::atoi(ready.substr(ready.find(' ') + 1).c_str());

	auto r = ctl({ "audit", "--pid", show("audit-unconfined-taps.service", "MainPID") });
	EXPECT_EQ(r.exitStatus, 1) << r.out << r.err;
	EXPECT_THAT(r.out, HasSubstr("(domain 5)"));
	EXPECT_THAT(r.out, ContainsRegex(fmt::format("PASS  tap fd {} +: interface vif5.0-emu: domain 5's own", own)));
	EXPECT_THAT(r.out, ContainsRegex(
			       fmt::format("FAIL  tap fd {} +: interface vif6.0-emu is not one of domain 5's", other)));
	/* TUNGETIFF changed nothing: the taps are still there, attached. */
	auto links = bed().sh("ip -o link show vif5.0-emu && ip -o link show vif6.0-emu");
	EXPECT_TRUE(links.ok() && links->ok()) << (links.ok() ? links->err : links.error().message());
}

TEST_F(AuditTest, AnAuditThatCannotRunExitsTwo)
{
	struct Case {
		std::vector<std::string> args;
		std::string message;
	};
	const std::vector<Case> cases = {
		{ { "audit", "30" }, "domain 30: qemu-dm@30.service is not running" },
		{ { "audit", "--pid", "999999" }, "no process 999999" },
		{ { "audit" }, "audit needs a DOMID or --pid PID" },
		{ { "audit", "0" }, "invalid domain id '0'" },
		{ { "audit", "5", "--pid", "1" }, "unexpected argument '--pid'" },
		{ { "audit", "--pid", "x" }, "--pid: 'x' is not a process id" },
	};
	for (const auto &c : cases) {
		auto r = ctl(c.args);
		EXPECT_EQ(r.exitStatus, 2) << fmt::format("{}", fmt::join(c.args, " ")) << ": " << r.out << r.err;
		EXPECT_THAT(r.err, HasSubstr(c.message));
		EXPECT_EQ(r.out, "");
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure parts of `qemu-dmctl audit`: parsers, verdicts, the report and its JSON. */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "dm_audit.h"

using namespace qemudm;
using testing::HasSubstr;

namespace {

/* /proc/PID/status of a restricted DM (Linux 6.1), trimmed to the lines the audit reads plus neighbours. */
constexpr const char *kDmStatus = "Name:\tqemu-system-i38\n"
				  "Umask:\t0022\n"
				  "State:\tS (sleeping)\n"
				  "Tgid:\t812\n"
				  "Uid:\t131077\t131077\t131077\t131077\n"
				  "Gid:\t997\t997\t997\t997\n"
				  "FDSize:\t64\n"
				  "Groups:\t997 \n"
				  "CapInh:\t0000000000000000\n"
				  "CapPrm:\t0000000000000000\n"
				  "CapEff:\t0000000000000000\n"
				  "CapBnd:\t00000000000000c3\n"
				  "CapAmb:\t0000000000000000\n"
				  "NoNewPrivs:\t1\n"
				  "Seccomp:\t2\n"
				  "Seccomp_filters:\t3\n";

constexpr const char *kRootStatus = "Name:\tsleep\n"
				    "Uid:\t0\t0\t0\t0\n"
				    "Gid:\t0\t0\t0\t0\n"
				    "Groups:\t\n"
				    "CapInh:\t0000000000000000\n"
				    "CapPrm:\t000001ffffffffff\n"
				    "CapEff:\t000001ffffffffff\n"
				    "CapBnd:\t000001ffffffffff\n"
				    "CapAmb:\t0000000000000000\n"
				    "NoNewPrivs:\t0\n"
				    "Seccomp:\t0\n";

ProcStatus parsed(const char *text)
{
	auto s = parseProcStatus(text);
	EXPECT_TRUE(s.ok()) << s.error().message();
	return s.ok() ? *s : ProcStatus{};
}

AuditExpectations unitOf(uint32_t domid)
{
	AuditExpectations e;
	e.domid = domid;
	e.uid = 131072 + domid;
	e.gid = 997;
	e.unit = true;
	return e;
}

} /* namespace */

TEST(DmAuditParse, ProcStatus)
{
	ProcStatus s = parsed(kDmStatus);
	EXPECT_EQ(s.name, "qemu-system-i38");
	EXPECT_EQ(s.uids[0], 131077u);
	EXPECT_EQ(s.uids[3], 131077u);
	EXPECT_EQ(s.gids[2], 997u);
	EXPECT_EQ(s.groups, std::vector<uint32_t>{ 997 });
	EXPECT_EQ(s.capBnd, 0xc3u);
	EXPECT_EQ(s.noNewPrivs, 1);
	EXPECT_EQ(s.seccomp, 2);

	ProcStatus r = parsed(kRootStatus);
	EXPECT_TRUE(r.groups.empty());
	EXPECT_EQ(r.capEff, 0x1ffffffffffu);
}

TEST(DmAuditParse, ProcStatusRejectsWhatItCannotRead)
{
	EXPECT_FALSE(parseProcStatus("Name:\tx\nGid:\t1\t1\t1\t1\n").ok());	 /* no Uid */
	EXPECT_FALSE(parseProcStatus("Uid:\t1\t1\t1\nGid:\t1\t1\t1\t1\n").ok()); /* three uids */
	auto bad = parseProcStatus(std::string(kDmStatus) + "CapEff:\tzz\n");
	ASSERT_FALSE(bad.ok());
	EXPECT_THAT(bad.error().message(), HasSubstr("CapEff"));
	std::string noCaps = "Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n";
	EXPECT_FALSE(parseProcStatus(noCaps).ok());
	/* Missing NoNewPrivs/Seccomp lines are not a parse error but fail their checks. */
	auto old = parseProcStatus(noCaps + "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapAmb:\t0\n");
	ASSERT_TRUE(old.ok());
	EXPECT_EQ(auditNoNewPrivs(*old).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditSeccomp(*old).verdict, AuditVerdict::Fail);
}

TEST(DmAuditParse, LimitsCgroupFdinfoCmdline)
{
	const char *limits = "Limit                     Soft Limit           Hard Limit           Units     \n"
			     "Max cpu time              unlimited            unlimited            seconds   \n"
			     "Max file size             unlimited            unlimited            bytes     \n"
			     "Max core file size        0                    0                    bytes     \n";
	auto core = parseCoreLimit(limits);
	ASSERT_TRUE(core);
	EXPECT_EQ(core->first, "0");
	EXPECT_EQ(core->second, "0");
	EXPECT_FALSE(parseCoreLimit("Max cpu time unlimited unlimited seconds\n"));

	EXPECT_EQ(parseUnifiedCgroup("0::/qemu-dm.slice/qemu-dm@5.service\n"), "/qemu-dm.slice/qemu-dm@5.service");
	EXPECT_EQ(parseUnifiedCgroup("1:name=systemd:/x\n0::/y\n"), "/y");
	EXPECT_FALSE(parseUnifiedCgroup("1:name=systemd:/x\n"));

	EXPECT_EQ(parseFdinfoFlags("pos:\t0\nflags:\t02102001\nmnt_id:\t29\nino:\t5\n"), 02102001);
	EXPECT_FALSE(parseFdinfoFlags("pos:\t0\n"));

	static constexpr char kCmdline[] = "/usr/libexec/xen-qemu-system-i386\0-xen-domid\0"
					   "3\0-S\0";
	auto argv = splitCmdline(std::string_view(kCmdline, sizeof(kCmdline) - 1));
	ASSERT_EQ(argv.size(), 4u);
	EXPECT_EQ(argv[1], "-xen-domid");
	EXPECT_EQ(xenDomidFromArgv(argv), 3u);
	EXPECT_FALSE(xenDomidFromArgv({ "qemu", "-xen-domid" }));
	EXPECT_FALSE(xenDomidFromArgv({ "qemu", "-xen-domid", "x" }));
	EXPECT_FALSE(xenDomidFromArgv({ "qemu", "-xen-domid", "32752" }));
	EXPECT_EQ(xenDomidFromArgv({ "qemu", "-xen-domid", "0" }), 0u);
}

TEST(DmAuditVerdict, CredentialsOfARestrictedUnit)
{
	auto c = auditCredentials(parsed(kDmStatus), unitOf(5));
	ASSERT_EQ(c.size(), 2u);
	EXPECT_EQ(c[0].name, "uids");
	EXPECT_EQ(c[0].verdict, AuditVerdict::Pass) << c[0].reason;
	EXPECT_THAT(c[0].reason, HasSubstr("131077"));
	EXPECT_EQ(c[1].verdict, AuditVerdict::Pass) << c[1].reason;

	/* Not root, but another domain's uid. */
	auto other = auditCredentials(parsed(kDmStatus), unitOf(6));
	EXPECT_EQ(other[0].verdict, AuditVerdict::Fail);
	EXPECT_THAT(other[0].reason, HasSubstr("uid 131077 is not 131078 (the per-domain uid of domain 6)"));

	/* A DM started with device_model_user is held to that user. */
	AuditExpectations dmUser = unitOf(5);
	dmUser.uid = 131077;
	dmUser.uidSource = "device_model_user dm-five";
	auto named = auditCredentials(parsed(kDmStatus), dmUser);
	EXPECT_EQ(named[0].verdict, AuditVerdict::Pass);
	EXPECT_THAT(named[0].reason, HasSubstr("device_model_user dm-five"));
	AuditExpectations wrongGroup = unitOf(5);
	wrongGroup.gid = 998;
	EXPECT_EQ(auditCredentials(parsed(kDmStatus), wrongGroup)[1].verdict, AuditVerdict::Fail);
}

TEST(DmAuditParse, RunasOfTheUnitsExecStart)
{
	EXPECT_EQ(runasFromExecStart({ "/usr/libexec/qemu-dm/qemu-dm-exec", "--domid", "5", "--type", "hvm", "--runas",
				       "131077:997", "--", "/usr/libexec/xen-qemu-system-i386", "-runas", "x" }),
		  "131077:997");
	/* QEMU's own arguments after "--" are not qemu-dm-exec's. */
	EXPECT_FALSE(runasFromExecStart({ "qemu-dm-exec", "--domid", "5", "--", "qemu", "--runas", "0:0" }));
	EXPECT_FALSE(runasFromExecStart({ "qemu-dm-exec", "--runas" }));
}

TEST(DmAuditVerdict, CredentialsOfRoot)
{
	auto c = auditCredentials(parsed(kRootStatus), {});
	EXPECT_EQ(c[0].verdict, AuditVerdict::Fail);
	EXPECT_EQ(c[1].verdict, AuditVerdict::Fail);

	/* One saved uid of 0 is enough to get root back. */
	std::string saved = kDmStatus;
	saved.replace(saved.find("131077\t131077\t131077\t131077"), 27, "131077\t131077\t0\t131077");
	EXPECT_EQ(auditCredentials(parsed(saved.c_str()), unitOf(5))[0].verdict, AuditVerdict::Fail);

	/* Supplementary group 0. */
	std::string groups = kDmStatus;
	groups.replace(groups.find("Groups:\t997"), 11, "Groups:\t0 997");
	auto g = auditCredentials(parsed(groups.c_str()), unitOf(5));
	EXPECT_EQ(g[1].verdict, AuditVerdict::Fail);
	EXPECT_THAT(g[1].reason, HasSubstr("supplementary group 0"));
}

TEST(DmAuditVerdict, CapabilitiesNoNewPrivsSeccomp)
{
	EXPECT_EQ(auditCapabilities(parsed(kDmStatus)).verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditCapabilities(parsed(kRootStatus)).verdict, AuditVerdict::Fail);
	ProcStatus amb = parsed(kDmStatus);
	amb.capAmb = 1u << 12;
	EXPECT_EQ(auditCapabilities(amb).verdict, AuditVerdict::Fail);
	ProcStatus inh = parsed(kDmStatus);
	inh.capInh = 1;
	EXPECT_EQ(auditCapabilities(inh).verdict, AuditVerdict::Fail);

	EXPECT_EQ(auditNoNewPrivs(parsed(kDmStatus)).verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditNoNewPrivs(parsed(kRootStatus)).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditSeccomp(parsed(kDmStatus)).verdict, AuditVerdict::Pass);
	ProcStatus strict = parsed(kDmStatus);
	strict.seccomp = 1;
	EXPECT_EQ(auditSeccomp(strict).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditSeccomp(parsed(kRootStatus)).verdict, AuditVerdict::Fail);
}

TEST(DmAuditVerdict, RootNamespacesCoreCgroup)
{
	EXPECT_EQ(auditRoot(false, "/run/xen/qemu-root-5").verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditRoot(true, "/").verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditRoot(std::nullopt, "").verdict, AuditVerdict::Fail);

	auto ns = auditNamespace("mnt", "mnt:[4026532301]", "mnt:[4026531841]", true);
	EXPECT_EQ(ns.name, "mount namespace");
	EXPECT_EQ(ns.verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditNamespace("ipc", "ipc:[1]", "ipc:[1]", true).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditNamespace("net", "net:[1]", "net:[1]", false, "host network").verdict, AuditVerdict::Info);
	EXPECT_EQ(auditNamespace("uts", "", "uts:[1]", true).verdict, AuditVerdict::Fail);

	EXPECT_EQ(auditCoreLimit("Max core file size        0                    0                    bytes\n").verdict,
		  AuditVerdict::Pass);
	auto core = auditCoreLimit("Max core file size        0                    unlimited            bytes\n");
	EXPECT_EQ(core.verdict, AuditVerdict::Fail);
	EXPECT_THAT(core.reason, HasSubstr("hard unlimited"));
	EXPECT_EQ(auditCoreLimit("").verdict, AuditVerdict::Fail);

	const std::string unit = "/qemu.slice/qemu-dm.slice/qemu-dm@5.service";
	EXPECT_EQ(auditCgroup("0::" + unit + "\n", 5).verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditCgroup("0::" + unit + "\n", 5, unit).verdict, AuditVerdict::Pass);
	/* systemd says where the unit is; a look-alike path elsewhere is not it. */
	auto lookAlike = auditCgroup("0::/user.slice/user-1000.slice/user@1000.service" + unit + "\n", 5, unit);
	EXPECT_EQ(lookAlike.verdict, AuditVerdict::Fail);
	EXPECT_THAT(lookAlike.reason, HasSubstr("escaped"));
	EXPECT_EQ(auditCgroup("0::/qemu-dm.slice/qemu-dm@5.service\n", 5).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditCgroup("0::/qemu.slice/qemu-dm.slice/qemu-dm@15.service\n", 5).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditCgroup("0::/user.slice/session-1.scope\n", 5).verdict, AuditVerdict::Fail);
	/* A unit systemd placed outside qemu-dm.slice fails too. */
	EXPECT_EQ(auditCgroup("0::/system.slice/qemu-dm@5.service\n", 5, "/system.slice/qemu-dm@5.service").verdict,
		  AuditVerdict::Fail);
	EXPECT_EQ(auditCgroup("0::/user.slice/session-1.scope\n", std::nullopt).verdict, AuditVerdict::Info);
}

TEST(DmAuditVerdict, ClassifiesDescriptors)
{
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/privcmd", {} }), FdKind::Privcmd);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/evtchn", {} }), FdKind::Evtchn);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/gntdev", {} }), FdKind::Gntdev);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/gntalloc", {} }), FdKind::Gntalloc);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/xenbus", {} }), FdKind::Xenbus);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/hypercall", {} }), FdKind::Hypercall);
	EXPECT_EQ(classifyFd({ 3, "/dev/net/tun", {} }), FdKind::Tun);
	EXPECT_EQ(classifyFd({ 3, "socket:[1234]", {} }), FdKind::Socket);
	EXPECT_EQ(classifyFd({ 3, "/var/log/xen/qemu-dm-hvmq.log", {} }), FdKind::LogFile);
	/* A restricted libxencall/libxengnttab/xenstore handle is /dev/null: nothing to probe. */
	EXPECT_EQ(classifyFd({ 3, "/dev/null", {} }), FdKind::Other);
	EXPECT_EQ(classifyFd({ 3, "/dev/xen/privcmd (deleted)", {} }), FdKind::Other);
	EXPECT_TRUE(isXenstoredSocketPath("/run/xenstored/socket"));
	EXPECT_TRUE(isXenstoredSocketPath("/var/run/xenstored/socket_ro"));
	EXPECT_FALSE(isXenstoredSocketPath("/run/systemd/journal/stdout"));
}

TEST(DmAuditVerdict, StdinAndLogs)
{
	EXPECT_EQ(auditStdin(std::nullopt).verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditStdin(FdEntry{ 0, "/dev/null", O_RDONLY }).verdict, AuditVerdict::Pass);
	EXPECT_EQ(auditStdin(FdEntry{ 0, "socket:[5]", O_RDWR }).verdict, AuditVerdict::Fail);
	EXPECT_EQ(auditStdin(FdEntry{ 0, "/dev/null", std::nullopt }).verdict, AuditVerdict::Fail);

	const std::string log = "/var/log/xen/qemu-dm-hvmq.log";
	auto ok = auditLogFd({ 2, log, O_WRONLY | O_APPEND | O_LARGEFILE });
	EXPECT_EQ(ok.name, "log fd 2");
	EXPECT_EQ(ok.verdict, AuditVerdict::Pass);
	auto rw = auditLogFd({ 2, log, O_RDWR | O_APPEND });
	EXPECT_EQ(rw.verdict, AuditVerdict::Fail);
	EXPECT_THAT(rw.reason, HasSubstr("read-write"));
	auto noAppend = auditLogFd({ 1, log, O_WRONLY });
	EXPECT_EQ(noAppend.verdict, AuditVerdict::Fail);
	EXPECT_THAT(noAppend.reason, HasSubstr("without O_APPEND"));
}

TEST(DmAuditVerdict, Privcmd)
{
	auto restricted = privcmdVerdict(5, { -1, EPERM });
	EXPECT_EQ(restricted.name, "privcmd fd 5");
	EXPECT_EQ(restricted.verdict, AuditVerdict::Pass);
	auto open = privcmdVerdict(5, { 0x40011, 0 });
	EXPECT_EQ(open.verdict, AuditVerdict::Fail);
	EXPECT_THAT(open.reason, HasSubstr("Xen 4.17"));
	/* Anything but the driver's EPERM proves nothing. */
	auto odd = privcmdVerdict(5, { -1, ENOTTY });
	EXPECT_EQ(odd.verdict, AuditVerdict::Fail);
	EXPECT_THAT(odd.reason, HasSubstr("ENOTTY"));
	EXPECT_EQ(privcmdVerdict(5, { -1, EACCES }).verdict, AuditVerdict::Fail);

	/* Restricted, and to which domain (RESTRICT again with the DM's domid: 0, or EINVAL for another). */
	EXPECT_THAT(restricted.reason, HasSubstr("the DM's domain is unknown"));
	auto own = privcmdVerdict(5, { -1, EPERM }, 5u, ProbeResult{ 0, 0 });
	EXPECT_EQ(own.verdict, AuditVerdict::Pass);
	EXPECT_THAT(own.reason, HasSubstr("restricted to domain 5"));
	auto wrong = privcmdVerdict(5, { -1, EPERM }, 5u, ProbeResult{ -1, EINVAL });
	EXPECT_EQ(wrong.verdict, AuditVerdict::Fail);
	EXPECT_THAT(wrong.reason, HasSubstr("another domain than 5"));
	EXPECT_EQ(privcmdVerdict(5, { -1, EPERM }, 5u, ProbeResult{ -1, EFAULT }).verdict, AuditVerdict::Fail);
}

TEST(DmAuditVerdict, Evtchn)
{
	auto restricted = evtchnVerdict(7, 0, { -1, EACCES }, ProbeResult{ -1, EACCES });
	EXPECT_EQ(restricted.name, "evtchn fd 7");
	EXPECT_EQ(restricted.verdict, AuditVerdict::Pass) << restricted.reason;
	EXPECT_THAT(restricted.reason, HasSubstr("domain 0"));

	/* Unrestricted: the driver hands the bind to Xen, which refuses port 0. */
	auto passedOn = evtchnVerdict(7, 0, { -1, EINVAL }, std::nullopt);
	EXPECT_EQ(passedOn.verdict, AuditVerdict::Fail);
	EXPECT_THAT(passedOn.reason, HasSubstr("EINVAL"));

	auto bound = evtchnVerdict(7, 0, { 12, 0 }, std::nullopt);
	EXPECT_EQ(bound.verdict, AuditVerdict::Fail);
	EXPECT_THAT(bound.reason, HasSubstr("unbound again"));
	auto stuck = evtchnVerdict(7, 0, { 12, 0 }, std::nullopt, ENOTCONN);
	EXPECT_THAT(stuck.reason, HasSubstr("unbinding it again failed"));

	auto unbound = evtchnVerdict(7, 0, { -1, EACCES }, ProbeResult{ 13, 0 });
	EXPECT_EQ(unbound.verdict, AuditVerdict::Fail);
	EXPECT_THAT(unbound.reason, HasSubstr("unbound port 13"));
	EXPECT_EQ(evtchnVerdict(7, 0, { -1, EACCES }, std::nullopt).verdict, AuditVerdict::Fail);
	EXPECT_EQ(evtchnVerdict(7, 0, { -1, EACCES }, ProbeResult{ -1, ENOSYS }).verdict, AuditVerdict::Fail);

	/* Known domain: a bind to it goes on to Xen (which refuses port 0) only if the handle is restricted to it. */
	auto own = evtchnVerdict(7, 0, { -1, EACCES }, ProbeResult{ -1, EACCES }, 0, 5u, ProbeResult{ -1, EINVAL });
	EXPECT_EQ(own.verdict, AuditVerdict::Pass);
	EXPECT_THAT(own.reason, HasSubstr("restricted to domain 5"));
	auto wrong = evtchnVerdict(7, 0, { -1, EACCES }, ProbeResult{ -1, EACCES }, 0, 5u, ProbeResult{ -1, EACCES });
	EXPECT_EQ(wrong.verdict, AuditVerdict::Fail);
	EXPECT_THAT(wrong.reason, HasSubstr("restricted to another domain"));
}

TEST(DmAuditVerdict, GntdevXenstoreHypercallTap)
{
	EXPECT_EQ(gntdevVerdict(9, { 0, 0 }).verdict, AuditVerdict::Fail);
	EXPECT_EQ(gntdevVerdict(9, { -1, EFAULT }).verdict, AuditVerdict::Fail);
	EXPECT_EQ(gntallocVerdict(8).verdict, AuditVerdict::Fail);
	EXPECT_EQ(gntallocVerdict(8).name, "gntalloc fd 8");
	EXPECT_EQ(xenstoreVerdict(4, "/dev/xen/xenbus").verdict, AuditVerdict::Warn);
	EXPECT_EQ(hypercallBufferInfo(6).verdict, AuditVerdict::Info);
	EXPECT_EQ(noXenFdsInfo().verdict, AuditVerdict::Info);
	EXPECT_THAT(noXenFdsInfo().reason, HasSubstr("no Xen fds"));

	EXPECT_TRUE(isDomainTapName("vif5.0-emu", 5));
	EXPECT_TRUE(isDomainTapName("vif5.12", 5));
	EXPECT_FALSE(isDomainTapName("vif15.0-emu", 5));
	EXPECT_FALSE(isDomainTapName("vif5.-emu", 5));
	EXPECT_FALSE(isDomainTapName("vif5.0x", 5));
	EXPECT_FALSE(isDomainTapName("tap0", 5));

	EXPECT_EQ(tapVerdict(11, std::string("vif5.0-emu"), 5u).verdict, AuditVerdict::Pass);
	EXPECT_EQ(tapVerdict(11, std::string("vif6.0-emu"), 5u).verdict, AuditVerdict::Fail);
	EXPECT_EQ(tapVerdict(11, std::string("vif5.0-emu"), std::nullopt).verdict, AuditVerdict::Info);
	EXPECT_EQ(tapVerdict(11, Result<std::string>(makeError(EBADFD, "fd 11: not attached")), 5u).verdict,
		  AuditVerdict::Fail);
}

TEST(DmAuditReport, TextExitCodeAndJson)
{
	AuditReport r;
	r.target = "qemu-dm@5.service";
	r.domid = 5;
	ProcessAudit p;
	p.pid = 812;
	p.comm = "qemu-system-i38";
	p.domid = 5;
	p.checks = { { "uids", AuditVerdict::Pass, "uid 131077" },
		     { "xenstore fd 4", AuditVerdict::Warn, "held" },
		     { "Xen fds", AuditVerdict::Info, "no Xen fds" } };
	r.processes.push_back(p);
	/* WARN and INFO do not fail the audit. */
	EXPECT_EQ(auditExitCode(r), kAuditExitPass);
	std::string text = formatAudit(r);
	EXPECT_THAT(text, HasSubstr("Audit of qemu-dm@5.service (domain 5): 1 process\n"));
	EXPECT_THAT(text, HasSubstr("pid 812 (qemu-system-i38)\n"));
	EXPECT_THAT(text, HasSubstr("  PASS  uids          : uid 131077\n"));
	EXPECT_THAT(text, HasSubstr("  INFO  Xen fds       : no Xen fds\n"));
	EXPECT_THAT(text, HasSubstr("Result: PASS (1 passed, 0 failed, 1 warning, 1 not checked)\n"));

	r.processes[0].checks.push_back({ "seccomp", AuditVerdict::Fail, "0" });
	EXPECT_EQ(auditExitCode(r), kAuditExitFail);
	EXPECT_THAT(formatAudit(r), HasSubstr("Result: FAIL (1 passed, 1 failed"));

	json::Value v = auditToJson(r);
	std::string s = v.serialize();
	EXPECT_THAT(s, HasSubstr("\"target\":\"qemu-dm@5.service\",\"domid\":5,\"result\":\"fail\""));
	EXPECT_THAT(s, HasSubstr("{\"name\":\"seccomp\",\"verdict\":\"fail\",\"reason\":\"0\"}"));
	auto parsedBack = json::parse(s);
	ASSERT_TRUE(parsedBack.ok());
	const json::Value *procs = parsedBack->find("processes");
	ASSERT_TRUE(procs && procs->items().size() == 1);
	auto back = processAuditFromJson(procs->items()[0]);
	ASSERT_TRUE(back.ok()) << back.error().message();
	EXPECT_EQ(back->pid, 812);
	EXPECT_EQ(back->domid, 5u);
	EXPECT_EQ(back->checks, r.processes[0].checks);

	AuditReport pidOnly;
	pidOnly.target = "pid 9";
	EXPECT_THAT(auditToJson(pidOnly).serialize(), HasSubstr("\"domid\":null"));
	EXPECT_FALSE(processAuditFromJson(json::Value::object()).ok());
}

/* The glue on a process of our own (no root needed): it runs, it is bounded, a gone process is an Error. */
TEST(DmAuditSystem, AuditsAProcessBoundedAndFailsClosedOnTimeout)
{
	pid_t child = ::fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		for (;;)
			::pause();
	}
	auto a = auditProcess(child, AuditExpectations{});
	ASSERT_TRUE(a.ok()) << a.error().message();
	EXPECT_EQ(a->pid, child);
	EXPECT_FALSE(a->domid); /* no -xen-domid on its command line */
	std::vector<std::string> names;
	for (const auto &c : a->checks)
		names.push_back(c.name);
	EXPECT_THAT(names, testing::IsSupersetOf({ "uids", "gids", "capabilities", "NoNewPrivs", "seccomp",
						   "root directory", "RLIMIT_CORE", "cgroup", "fd 0", "Xen fds" }));

	/* A process that stalls the audit past its bound gets a FAIL, not a hang. */
	AuditOptions now;
	now.timeout = std::chrono::milliseconds(0);
	auto t = auditProcess(child, AuditExpectations{}, now);
	ASSERT_TRUE(t.ok()) << t.error().message();
	ASSERT_EQ(t->checks.size(), 1u);
	EXPECT_EQ(t->checks[0].name, "audit");
	EXPECT_EQ(t->checks[0].verdict, AuditVerdict::Fail);
	EXPECT_THAT(t->checks[0].reason, HasSubstr("did not finish within 0 ms"));

	::kill(child, SIGKILL);
	int status;
	ASSERT_EQ(::waitpid(child, &status, 0), child);
	auto gone = auditProcess(child, AuditExpectations{});
	ASSERT_FALSE(gone.ok());
	EXPECT_EQ(gone.error().code(), ESRCH);
	EXPECT_THAT(gone.error().message(), HasSubstr(fmt::format("no process {}", child)));
}

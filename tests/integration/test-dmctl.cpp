/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Issue 4 end to end in a real (private) systemd: qemu-dmctl and the C API
 * start device models as qemu-dm@<domid>, hand over the QMP socket, stop
 * them with every process gone, and refuse bad input with one clear error
 * and nothing left running.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <thread>

#include "domain.h"
#include "json.h"
#include "qemu-dm.h"
#include "testbed_fixture.h"

using namespace qemudm;
using namespace qemudm::testbed;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string kStandin = "/usr/libexec/qemu-dm-tests/dm-standin";
const std::string kTcg = "/usr/libexec/qemu-system-i386";
const std::string kXenQemu = "/usr/libexec/xen-qemu-system-i386";

class DmctlTest : public TestBedSuite
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
		if (hasBed())
			(void)bed().sh("for u in $(systemctl list-units --all --plain --no-legend 'qemu-dm@*' | "
				       "awk '{print $1}'); do systemctl kill -s KILL $u; systemctl stop $u; "
				       "systemctl reset-failed $u; done 2>/dev/null; true");
	}

	CommandResult ctl(const std::vector<std::string> &args)
	{
		std::vector<std::string> argv = { "qemu-dmctl" };
		argv.insert(argv.end(), args.begin(), args.end());
		auto r = bed().run(argv, std::chrono::seconds(90));
		EXPECT_TRUE(r.ok()) << r.error().message();
		return r.ok() ? *r : CommandResult{};
	}

	/* Processes of a uid anywhere in the bed. */
	int processesOf(uid_t uid)
	{
		auto r = bed().sh(fmt::format("ps -e -o uid= | awk '$1 == {}' | wc -l", uid));
		return r.ok() ? std::atoi(r->out.c_str()) : -1;
	}

	/* Nothing of domain `domid` is left: no unit, no process of its uid. */
	void expectNothingLeft(uint32_t domid)
	{
		std::string state = show(dmUnitName(domid), "ActiveState");
		EXPECT_THAT(state, ::testing::AnyOf("inactive", "")) << dmUnitName(domid);
		EXPECT_EQ(processesOf(131072 + domid), 0) << "processes of domain " << domid << " survived";
	}
};

} /* namespace */

TEST_F(DmctlTest, StartThroughCliShowsUserCgroupAndJournal)
{
	auto r = ctl({ "start", "5", "--name", "guest-five", "--no-domain-check", "--", kStandin });
	ASSERT_TRUE(r.ok()) << r.err;
	EXPECT_THAT(r.out, HasSubstr("qemu-dm@5.service"));

	auto status = bed().run({ "systemctl", "status", "--no-pager", "qemu-dm@5" });
	ASSERT_TRUE(status.ok());
	EXPECT_THAT(status->out, HasSubstr("Xen device model for domain 5 (guest-five)"));
	EXPECT_THAT(status->out, HasSubstr("qemu-dm.slice/qemu-dm@5.service"));

	auto st = ctl({ "status", "5" });
	EXPECT_THAT(st.out, HasSubstr("xen-qemuuser-5 (131077)"));
	auto ps = bed().sh("ps -o user:20= -C dm-standin");
	EXPECT_THAT(ps->out, HasSubstr("xen-qemuuser-5"));

	/* The DM's own output, with the structured field. */
	EXPECT_TRUE(waitUntil([&] {
		auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "XEN_DOMID=5" });
		return j.ok() && j->out.find("dm-standin: running as uid 131077") != std::string::npos;
	})) << bed().journal("qemu-dm@5.service");
	auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "XEN_DOMAIN_NAME=guest-five" });
	EXPECT_THAT(j->out, HasSubstr("dm-standin"));

	auto list = ctl({ "list" });
	EXPECT_THAT(list.out, HasSubstr("qemu-dm@5.service"));
	EXPECT_THAT(list.out, HasSubstr("DOMID"));
	auto bare = ctl({ "list", "--no-legend" });
	EXPECT_THAT(bare.out, HasSubstr("qemu-dm@5.service"));
	EXPECT_THAT(bare.out, Not(HasSubstr("DOMID")));

	/* --json: valid JSON with the same facts (parsed, not grepped). */
	auto sj = ctl({ "status", "--json", "5" });
	EXPECT_EQ(sj.exitStatus, 0) << sj.err;
	auto sv = json::parse(sj.out);
	ASSERT_TRUE(sv.ok()) << sv.error().message() << ": " << sj.out;
	ASSERT_TRUE(sv->isObject()) << sj.out;
	EXPECT_EQ(sv->find("domid")->asUint32(), 5u);
	EXPECT_EQ(*sv->find("unit")->asString(), "qemu-dm@5.service");
	EXPECT_EQ(*sv->find("active_state")->asString(), "active");
	EXPECT_EQ(*sv->find("user")->asString(), "xen-qemuuser-5");
	EXPECT_EQ(sv->find("uid")->asUint32(), 131077u);
	EXPECT_GT(sv->find("main_pid")->asUint32().value_or(0), 0u);
	auto lj = ctl({ "list", "--json" });
	auto lv = json::parse(lj.out);
	ASSERT_TRUE(lv.ok()) << lv.error().message() << ": " << lj.out;
	ASSERT_TRUE(lv->isArray());
	ASSERT_EQ(lv->items().size(), 1u) << lj.out;
	EXPECT_EQ(lv->items()[0].find("domid")->asUint32(), 5u);

	auto stop = ctl({ "stop", "5" });
	EXPECT_TRUE(stop.ok()) << stop.err;
	expectNothingLeft(5);

	/* Not active: exit status 3, as systemctl status. */
	auto gone = ctl({ "status", "5" });
	EXPECT_EQ(gone.exitStatus, 3) << gone.out << gone.err;
	auto goneJson = ctl({ "status", "5", "--json" });
	EXPECT_EQ(goneJson.exitStatus, 3);
	auto gv = json::parse(goneJson.out);
	ASSERT_TRUE(gv.ok()) << goneJson.out;
	EXPECT_EQ(*gv->find("active_state")->asString(), "inactive");
	EXPECT_TRUE(gv->find("main_pid")->isNull());
}

TEST_F(DmctlTest, StartThroughTheCApiWithAHandedOverQmpSocket)
{
	/* Inside the bed (systemd only talks to peers it can see): listen, start, query. */
	auto out = bed().inside([&]() -> std::string {
		int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_un sa{};
		sa.sun_family = AF_UNIX;
		std::strcpy(sa.sun_path, "/run/capi-qmp.sock");
		::unlink(sa.sun_path);
		if (l < 0 || ::bind(l, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 || ::listen(l, 4) < 0)
			return "cannot listen";

		qemu_dm_options *o = qemu_dm_options_new();
		qemu_dm_options_set_name(o, "capi");
		qemu_dm_options_set_domain_check(o, 0);
		qemu_dm_options_set_qmp_fd(o, l, 7);
		const char *argv[] = { kStandin.c_str(), "-qmp-fd", "7", nullptr };
		char *err = nullptr;
		int r = qemu_dm_start(6, argv, o, &err);
		qemu_dm_options_free(o);
		::close(l);
		if (r < 0) {
			std::string e = err ? err : "(no message)";
			qemu_dm_free(err);
			return "start failed: " + e;
		}

		int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (::connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
			return "cannot connect to the QMP socket";
		std::string got;
		char buf[1024];
		const char cmds[] = "{\"execute\": \"qmp_capabilities\"}\n{\"execute\": \"query-status\"}\n";
		(void)!::write(c, cmds, sizeof(cmds) - 1);
		for (int i = 0; i < 50 && got.find("running") == std::string::npos; i++) {
			ssize_t n = ::read(c, buf, sizeof(buf));
			if (n <= 0)
				break;
			got.append(buf, static_cast<size_t>(n));
		}
		::close(c);

		qemu_dm_status st;
		err = nullptr;
		r = qemu_dm_get_status(6, &st, &err);
		qemu_dm_free(err);
		std::string state = r == 0 ? st.active_state : "?";
		r = qemu_dm_stop(6, 10, &err);
		std::string stop = r == 0 ? "stopped" : std::string("stop failed: ") + (err ? err : "");
		qemu_dm_free(err);
		return fmt::format("{}|{}|{}", got.find("\"running\": true") != std::string::npos ? "qmp-ok" : got,
				   state, stop);
	});
	ASSERT_TRUE(out.ok()) << out.error().message();
	EXPECT_EQ(*out, "qmp-ok|active|stopped");
	expectNothingLeft(6);
}

TEST_F(DmctlTest, StartThroughTheCApiHandsEveryFdAtItsNumber)
{
	/*
	 * The QMP socket, a restore stream (-incoming fd:N, a pipe) and a regular
	 * file reach the DM at the numbers its argv names, of their types, over the
	 * fd channel; nothing else is open in it.
	 */
	auto out = bed().inside([&]() -> std::string {
		int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_un sa{};
		sa.sun_family = AF_UNIX;
		std::strcpy(sa.sun_path, "/run/capi-fds-qmp.sock");
		::unlink(sa.sun_path);
		if (l < 0 || ::bind(l, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 || ::listen(l, 4) < 0)
			return "cannot listen";
		int p[2];
		if (::pipe2(p, O_CLOEXEC) < 0)
			return "cannot make a pipe";
		const char state[] = "saved-device-model-state";
		(void)!::write(p[1], state, sizeof(state) - 1);
		::close(p[1]);
		int f = ::open("/run/capi-fds-log", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (f < 0)
			return "cannot open a file";

		qemu_dm_options *o = qemu_dm_options_new();
		qemu_dm_options_set_domain_check(o, 0);
		qemu_dm_options_set_qmp_fd(o, l, 4);
		int a1 = qemu_dm_options_add_fd(o, p[0], 3); /* below the QMP fd: the placement must not clobber it */
		int a2 = qemu_dm_options_add_fd(o, f, 12);
		int bad = qemu_dm_options_add_fd(o, f, 2);
		const char *argv[] = { kStandin.c_str(), "-qmp-fd", "4", "-report-fds", "-incoming", "fd:3", nullptr };
		char *err = nullptr;
		int r = qemu_dm_start(40, argv, o, &err);
		qemu_dm_options_free(o);
		::close(l);
		::close(p[0]);
		::close(f);
		std::string started = r == 0 ? "started" : std::string("start failed: ") + (err ? err : "");
		qemu_dm_free(err);
		if (r < 0)
			return started;

		int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool qmp = ::connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0;
		char buf[256];
		qmp = qmp && ::read(c, buf, sizeof(buf)) > 0;
		::close(c);
		return fmt::format("{}|{}|{}|{}|{}", a1, a2, bad, started, qmp ? "qmp-ok" : "no-qmp");
	});
	ASSERT_TRUE(out.ok()) << out.error().message();
	EXPECT_EQ(*out, fmt::format("0|0|{}|started|qmp-ok", -EINVAL));
	EXPECT_TRUE(waitUntil([&] {
		auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "XEN_DOMID=40" });
		return j.ok() && j->out.find("dm-standin: running as uid") != std::string::npos;
	})) << bed().journal("qemu-dm@40.service");
	auto j = bed().run({ "journalctl", "--no-pager", "-o", "cat", "XEN_DOMID=40" });
	ASSERT_TRUE(j.ok());
	EXPECT_THAT(j->out, HasSubstr("dm-standin: fds 3:pipe 4:socket 12:file\n"));
	EXPECT_THAT(j->out, HasSubstr("dm-standin: incoming fd:3: 24 bytes: saved-device-model-state\n"));
	auto stop = ctl({ "stop", "40" });
	EXPECT_TRUE(stop.ok()) << stop.err;
	expectNothingLeft(40);
}

TEST_F(DmctlTest, BadFdsAreRefusedAndNothingStarts)
{
	auto out = bed().inside([&]() -> std::string {
		int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		int p[2];
		if (l < 0 || null < 0 || ::pipe2(p, O_CLOEXEC) < 0)
			return "setup failed";
		const int closed = 900; /* high: a low number would be reused by the start's own bus connection */
		::close(closed);
		auto attempt = [&](const std::vector<std::pair<int, int>> &fds, int qmp) {
			qemu_dm_options *o = qemu_dm_options_new();
			qemu_dm_options_set_domain_check(o, 0);
			if (qmp >= 0)
				qemu_dm_options_set_qmp_fd(o, qmp, 5);
			for (auto [fd, target] : fds)
				qemu_dm_options_add_fd(o, fd, target);
			const char *argv[] = { kStandin.c_str(), nullptr };
			char *err = nullptr;
			int r = qemu_dm_start(41, argv, o, &err);
			qemu_dm_options_free(o);
			std::string e = fmt::format("{} {}", r, err ? err : "");
			qemu_dm_free(err);
			return e;
		};
		std::string res;
		res += attempt({ { null, 7 } }, -1) + "\n";		 /* wrong type */
		res += attempt({ { p[0], 7 }, { p[1], 7 } }, -1) + "\n"; /* a number twice */
		res += attempt({ { p[0], 5 } }, l) + "\n";		 /* the QMP fd's number */
		res += attempt({ { closed, 7 } }, -1) + "\n";		 /* closed */
		res += attempt({}, p[0]) + "\n";			 /* QMP fd not a socket */
		return res;
	});
	ASSERT_TRUE(out.ok()) << out.error().message();
	EXPECT_THAT(*out, HasSubstr("-22 domain 41: refusing the fds for QEMU: QEMU's fd 7: fd "));
	EXPECT_THAT(*out, HasSubstr(": a character device, not a socket, pipe or regular file\n"));
	EXPECT_THAT(*out, HasSubstr("-22 domain 41: refusing the fds for QEMU: QEMU's fd 7 is handed over twice\n"));
	EXPECT_THAT(*out, HasSubstr("-22 domain 41: refusing the fds for QEMU: QEMU's fd 5 is handed over twice\n"));
	EXPECT_THAT(*out, HasSubstr("QEMU's fd 7: fd 900: Bad file descriptor\n"));
	EXPECT_THAT(*out, HasSubstr("domain 41: refusing the fds for QEMU: the QMP fd "));
	EXPECT_THAT(*out, HasSubstr("is a pipe, not a socket\n"));
	expectNothingLeft(41);
	EXPECT_EQ(show(dmUnitName(41), "LoadState"), "not-found");
}

TEST_F(DmctlTest, CliPassesItsOwnFds)
{
	auto r = bed().sh(fmt::format("printf cli-state > /run/cli-state && qemu-dmctl start 44 --no-domain-check "
				      "--pass-fd 5 --pass-fd 6 -- {} -report-fds -incoming fd:5 5</run/cli-state "
				      "6>/run/cli-log",
				      kStandin));
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
	EXPECT_TRUE(waitUntil([&] {
		return bed().journal("qemu-dm@44.service", 50).find("dm-standin: running as") != std::string::npos;
	})) << bed().journal("qemu-dm@44.service");
	std::string journal = bed().journal("qemu-dm@44.service", 50);
	EXPECT_THAT(journal, HasSubstr("dm-standin: fds 5:file 6:file\n"));
	EXPECT_THAT(journal, HasSubstr("dm-standin: incoming fd:5: 9 bytes: cli-state\n"));
	EXPECT_TRUE(ctl({ "stop", "44" }).ok());
	expectNothingLeft(44);

	auto bad =
	    bed().sh(fmt::format("exec 7<&-; qemu-dmctl start 45 --no-domain-check --pass-fd 7 -- {}", kStandin));
	ASSERT_TRUE(bad.ok());
	EXPECT_NE(bad->exitStatus, 0);
	EXPECT_THAT(bad->err,
		    HasSubstr("domain 45: refusing the fds for QEMU: QEMU's fd 7: fd 7: Bad file descriptor"));
	expectNothingLeft(45);
}

TEST_F(DmctlTest, StopReapsEscapedProcesses)
{
	auto r = ctl({ "start", "7", "--no-domain-check", "--", kStandin, "-behave", "fork100" });
	ASSERT_TRUE(r.ok()) << r.err;
	ASSERT_TRUE(waitUntil([&] { return processesOf(131079) >= 101; }, std::chrono::seconds(20)))
	    << processesOf(131079) << " processes";
	auto stop = ctl({ "stop", "7" });
	EXPECT_TRUE(stop.ok()) << stop.err;
	EXPECT_EQ(processesOf(131079), 0);
	expectNothingLeft(7);
}

TEST_F(DmctlTest, SigtermIgnoringDmIsKilledAfterTheTimeout)
{
	auto r = ctl({ "start", "8", "--no-domain-check", "--", kStandin, "-behave", "ignore-term" });
	ASSERT_TRUE(r.ok()) << r.err;
	auto t0 = std::chrono::steady_clock::now();
	auto stop = ctl({ "stop", "8", "--timeout", "2" });
	auto took = std::chrono::steady_clock::now() - t0;
	EXPECT_TRUE(stop.ok()) << stop.err;
	/* Functional bound, not a benchmark: it must not wait for systemd's 30 s stop timeout. */
	EXPECT_LT(took, std::chrono::seconds(20));
	expectNothingLeft(8);
}

TEST_F(DmctlTest, StopKillDestroysASigtermIgnoringDmWithEscapedProcessesAtOnce)
{
	/* xl destroy: SIGKILL to the whole cgroup, no SIGTERM and no stop timeout to wait out. */
	auto r = ctl({ "start", "60", "--no-domain-check", "--", kStandin, "-behave", "ignore-term", "-escape", "50" });
	ASSERT_TRUE(r.ok()) << r.err;
	ASSERT_TRUE(waitUntil([&] { return processesOf(131132) >= 51; }, std::chrono::seconds(20)))
	    << processesOf(131132) << " processes";
	auto both = ctl({ "stop", "60", "--kill", "--timeout", "5" });
	EXPECT_NE(both.exitStatus, 0);
	EXPECT_THAT(both.err, HasSubstr("--kill and --timeout exclude each other"));
	auto bothEq = ctl({ "stop", "60", "--kill", "--timeout=5" }); /* --opt=VALUE is the same option */
	EXPECT_EQ(bothEq.exitStatus, 2);
	EXPECT_THAT(bothEq.err, HasSubstr("--kill and --timeout exclude each other"));
	auto t0 = std::chrono::steady_clock::now();
	auto stop = ctl({ "stop", "60", "--kill" });
	auto took = std::chrono::steady_clock::now() - t0;
	EXPECT_TRUE(stop.ok()) << stop.err;
	/* Functional bound, not a benchmark: a graceful stop would wait out TimeoutStopSec=30s. */
	EXPECT_LT(took, std::chrono::seconds(10));
	EXPECT_EQ(processesOf(131132), 0);
	expectNothingLeft(10);
	EXPECT_THAT(bed().journal("qemu-dm@60.service"), Not(HasSubstr("Failed with result")));
	auto again = ctl({ "stop", "60", "--kill" });
	EXPECT_NE(again.exitStatus, 0);
	EXPECT_THAT(again.err, HasSubstr("domain 60: no device model is running"));
}

TEST_F(DmctlTest, CApiDestroyKillsAtOnceAndNamesADomainWithoutDm)
{
	auto out = bed().inside([&]() -> std::string {
		qemu_dm_options *o = qemu_dm_options_new();
		qemu_dm_options_set_domain_check(o, 0);
		const char *argv[] = { kStandin.c_str(), "-behave", "ignore-term", "-escape", "20", nullptr };
		char *err = nullptr;
		int r = qemu_dm_start(61, argv, o, &err);
		qemu_dm_options_free(o);
		if (r < 0) {
			std::string e = err ? err : "(no message)";
			qemu_dm_free(err);
			return "start failed: " + e;
		}
		auto t0 = std::chrono::steady_clock::now();
		r = qemu_dm_destroy(61, 0, &err);
		auto took = std::chrono::steady_clock::now() - t0;
		if (r < 0) {
			std::string e = err ? err : "(no message)";
			qemu_dm_free(err);
			return "destroy failed: " + e;
		}
		std::string result = took < std::chrono::seconds(10) ? "destroyed" : "destroy waited";
		r = qemu_dm_destroy(61, 0, &err);
		result += fmt::format(" {} {}", r, err ? err : "(no message)");
		qemu_dm_free(err);
		return result;
	});
	ASSERT_TRUE(out.ok()) << out.error().message();
	EXPECT_EQ(*out, fmt::format("destroyed {} domain 61: no device model is running", -ESRCH));
	expectNothingLeft(61);
}

TEST_F(DmctlTest, ExternalSigkillEndsTheUnitCleanly)
{
	/* As `xl destroy` does: SIGKILL from outside. */
	auto r = ctl({ "start", "9", "--no-domain-check", "--", kStandin });
	ASSERT_TRUE(r.ok()) << r.err;
	auto pid = show("qemu-dm@9.service", "MainPID");
	ASSERT_TRUE(bed().run({ "kill", "-KILL", pid })->ok());
	EXPECT_TRUE(waitUntil([&] { return show("qemu-dm@9.service", "ActiveState") != "active"; }));
	EXPECT_NE(show("qemu-dm@9.service", "ActiveState"), "failed") << bed().journal("qemu-dm@9.service");
	expectNothingLeft(9);
}

TEST_F(DmctlTest, ChattyDmIsRateLimitedAndKeepsRunning)
{
	/* 200000 lines (~15 MiB) to the journal: rate limited, and no FSIZE limit kills it through its log. */
	auto r = ctl({ "start", "10", "--no-domain-check", "--", kStandin, "-behave", "chatty" });
	ASSERT_TRUE(r.ok()) << r.err;
	/* It writes everything within a second or two; the journal keeps only the burst. */
	std::this_thread::sleep_for(std::chrono::seconds(4));
	EXPECT_EQ(show("qemu-dm@10.service", "ActiveState"), "active") << bed().journal("qemu-dm@10.service", 5);
	auto n = bed().sh("journalctl --no-pager -o cat XEN_DOMID=10 | wc -l");
	ASSERT_TRUE(n.ok());
	int lines = std::atoi(n->out.c_str());
	EXPECT_GT(lines, 100);
	EXPECT_LT(lines, 200000) << "no rate limit applied";
	EXPECT_EQ(show("qemu-dm@10.service", "LogRateLimitBurst"), "1000");
}

TEST_F(DmctlTest, XenQemuWithoutHypervisorFailsClearly)
{
	auto r = ctl({ "start", "11", "--", kXenQemu, "-xen-domid", "11", "-machine", "xenfv", "-nodefaults",
		       "-display", "none" });
	EXPECT_EQ(r.exitStatus, 1);
	EXPECT_THAT(r.err, HasSubstr("domain 11"));
	EXPECT_THAT(r.err, HasSubstr("no hypervisor"));
	expectNothingLeft(11);
}

/*
 * A real slow case: the probe of an uncached QEMU (3.6-9.4 s in a TCG dom0).
 * This stand-in answers the probe's -version and -help only after 3 s, so
 * qemu-dm-exec is still checking long after any fixed settle window.
 */
void writeSlowStandin(TestBed &b, const std::string &path)
{
	ASSERT_TRUE(b.writeFile(path,
				"#!/bin/sh\n"
				"case \"$1\" in -version|-help) sleep 3 ;; esac\n"
				"exec " +
				    kStandin + " \"$@\"\n",
				0755)
			.ok());
}

TEST_F(DmctlTest, StartReportsSuccessOnlyAfterQemuWasExecuted)
{
	const std::string slow = "/etc/qemu-dm-tests/slow-standin";
	writeSlowStandin(bed(), slow);
	auto t0 = std::chrono::steady_clock::now();
	auto r = ctl({ "start", "17", "--no-domain-check", "--", slow });
	auto took = std::chrono::steady_clock::now() - t0;
	ASSERT_TRUE(r.ok()) << r.err;
	/* Not before the two slow probe runs, and by then QEMU (the stand-in) replaced qemu-dm-exec. */
	EXPECT_GE(took, std::chrono::seconds(6));
	std::string pid = show("qemu-dm@17.service", "MainPID");
	auto comm = bed().run({ "cat", "/proc/" + pid + "/comm" });
	ASSERT_TRUE(comm.ok());
	EXPECT_EQ(comm->out, "dm-standin\n");
	EXPECT_EQ(show("qemu-dm@17.service", "Type"), "notify");
	EXPECT_EQ(show("qemu-dm@17.service", "StatusText"), "Executing the device model");
	/* QEMU does not inherit the notification socket. */
	auto env = bed().sh("tr '\\0' '\\n' < /proc/" + pid + "/environ");
	ASSERT_TRUE(env.ok());
	EXPECT_THAT(env->out, Not(HasSubstr("NOTIFY_SOCKET")));
	EXPECT_THAT(env->out, HasSubstr("XEN_DOMAIN_ID=17"));
	ASSERT_TRUE(ctl({ "stop", "17" }).ok());
	expectNothingLeft(17);
}

TEST_F(DmctlTest, CheckFailingAfterASlowProbeIsReportedWithItsReason)
{
	/* The same slow probe, then qemu-dm-exec refuses the argv: "Started" would be a lie. */
	const std::string slow = "/etc/qemu-dm-tests/slow-standin-2";
	writeSlowStandin(bed(), slow);
	auto r = ctl({ "start", "18", "--no-domain-check", "--", slow, "-xen-domid", "19" });
	EXPECT_EQ(r.exitStatus, 1);
	EXPECT_EQ(r.out, "");
	EXPECT_THAT(r.err, HasSubstr("domain 18: the device model failed to start"));
	EXPECT_THAT(r.err, HasSubstr("-xen-domid 19 does not match --domid 18"));
	EXPECT_THAT(r.err, HasSubstr("status=68"));
	expectNothingLeft(18);
	/* The unit is gone, not just inactive. */
	EXPECT_EQ(show("qemu-dm@18.service", "LoadState"), "not-found");
}

TEST_F(DmctlTest, VncOnLocalhostIsReachableFromDom0AndNothingElse)
{
	/* A non-localhost address of this host: the DM must not reach it. */
	ASSERT_TRUE(bed().sh("ip addr replace 192.0.2.1/32 dev lo")->ok());
	auto r = ctl({ "start", "20", "--no-domain-check", "--vnc-localhost", "--", kStandin, "-vnc",
		       "127.0.0.1:0,to=99", "-net-probe", "127.0.0.1:5900,192.0.2.1:6000" });
	ASSERT_TRUE(r.ok()) << r.err;
	std::string journal;
	EXPECT_TRUE(waitUntil(
	    [&] {
		    journal = bed().journal("qemu-dm@20.service", 50);
		    return journal.find("net-probe 192.0.2.1") != std::string::npos;
	    },
	    std::chrono::seconds(20)))
	    << journal;
	EXPECT_THAT(journal, HasSubstr("dm-standin: vnc listening on 127.0.0.1:0,to=99"));
	/* Localhost: allowed. Any other address of the host: its packets are dropped (unfiltered, the
	 * connect would end at once with "Connection refused": nothing listens on port 6000). */
	EXPECT_THAT(journal, HasSubstr("net-probe 127.0.0.1:5900: connect: ok"));
	EXPECT_THAT(journal, HasSubstr("net-probe 192.0.2.1:6000: connect: "));
	EXPECT_THAT(journal, Not(HasSubstr("net-probe 192.0.2.1:6000: connect: ok")));
	EXPECT_THAT(journal, Not(HasSubstr("net-probe 192.0.2.1:6000: connect: Connection refused")));
	/* dom0 (the bed's own network namespace) connects to the DM's VNC port. */
	auto c = bed().run({ "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5900 && head -c 12 <&3" });
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->out, "RFB 003.008\n") << c->err;
	EXPECT_EQ(show("qemu-dm@20.service", "PrivateNetwork"), "no");
	EXPECT_THAT(show("qemu-dm@20.service", "IPAddressAllow"), HasSubstr("127.0.0.0/8"));
	EXPECT_THAT(show("qemu-dm@20.service", "RestrictAddressFamilies"), HasSubstr("AF_INET"));
	ASSERT_TRUE(ctl({ "stop", "20" }).ok());
	expectNothingLeft(20);
	(void)bed().sh("ip addr del 192.0.2.1/32 dev lo");
}

TEST_F(DmctlTest, WithoutTheVncDeclarationAfInetIsRefused)
{
	auto r = ctl({ "start", "21", "--no-domain-check", "--", kStandin, "-vnc", "127.0.0.1:1" });
	ASSERT_TRUE(r.ok()) << r.err; /* qemu-dm-exec's checks pass; QEMU itself then fails */
	std::string journal;
	EXPECT_TRUE(waitUntil([&] {
		journal = bed().journal("qemu-dm@21.service", 50);
		return journal.find("-vnc 127.0.0.1:1: socket") != std::string::npos;
	})) << journal;
	EXPECT_THAT(journal, HasSubstr("socket: Address family not supported by protocol"));
	expectNothingLeft(21);
	auto policy = ctl({ "policy", "21", "--no-domain-check", "--", kStandin });
	EXPECT_THAT(policy.out, HasSubstr("PrivateNetwork=yes"));
	EXPECT_THAT(policy.out, Not(HasSubstr("AF_INET")));
}

/*
 * qemu-dm-shim as libxl runs it: a stand-in for libxl (Python) makes the QMP
 * listening socket fd 14, execs the shim with QEMU's argv and its log on
 * stdout/stderr, records the shim's pid and, when it exits, its status.
 */
const std::string kFakeLibxl = R"(import os, socket, subprocess, sys
domid, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
path = "/run/shim-qmp-%s.sock" % domid
if os.path.exists(path):
    os.unlink(path)
s.bind(path)
s.listen(4)
os.dup2(s.fileno(), 14)
s.close()
fds = [14]
state = os.environ.get("FAKE_LIBXL_STATE")
if state:
    # A restore: libxl opens the saved state for QEMU's -incoming fd:15.
    st = os.open(state, os.O_RDONLY)
    os.dup2(st, 15)
    os.close(st)
    fds.append(15)
out = open(log, "w")
p = subprocess.Popen(["/usr/libexec/qemu-dm/qemu-dm-shim"] + sys.argv[3:], stdin=subprocess.DEVNULL,
                     stdout=out, stderr=out, pass_fds=fds)
for fd in fds:
    os.close(fd)
open("/run/shim-%s.pid" % domid, "w").write(str(p.pid))
rc = p.wait()
open("/run/shim-%s.rc" % domid, "w").write(str(rc))
)";

class ShimTest : public DmctlTest
{
protected:
	void SetUp() override
	{
		DmctlTest::SetUp();
		ASSERT_TRUE(bed().writeFile("/etc/qemu-dm-tests/fake-libxl.py", kFakeLibxl).ok());
		ASSERT_TRUE(bed().writeFile("/etc/xen/qemu-dm.conf", "[Device Model]\nQemu=" + kStandin + "\n").ok());
	}
	void TearDown() override
	{
		(void)bed().sh("rm -f /etc/xen/qemu-dm.conf");
		DmctlTest::TearDown();
	}

	/* libxl 4.17's PV argv (xen-lab.md 5.3) for `domid`, plus the stand-in's QMP server on fd 14, without
	 * -xen-domid-restrict (the stand-in has no Xen accelerator; qemu-dm-exec refuses it there). */
	static std::string pvArgv(uint32_t domid)
	{
		return fmt::format(
		    "-xen-domid {0} -no-shutdown -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -S "
		    "-mon chardev=libxl-cmd,mode=control "
		    "-chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-{0},server=on,wait=off "
		    "-mon chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -xen-attach "
		    "-name pvshim{0} -vnc 127.0.0.1:{0},to=99 -display none "
		    "-chroot /var/run/xen/qemu-root-{0} -machine xenpv -m 768 -qmp-fd 14",
		    domid);
	}

	/* Start the shim in the background; returns its pid (0 if it did not start). */
	/* `env`: "NAME=VALUE ..." for fake libxl and the shim (FAKE_LIBXL_STATE=PATH: a restore from PATH). */
	int launch(uint32_t domid, const std::string &argv, const std::string &env = "")
	{
		(void)bed().sh(fmt::format("rm -f /run/shim-{0}.pid /run/shim-{0}.rc", domid));
		auto r = bed().sh(fmt::format("{2} setsid python3 /etc/qemu-dm-tests/fake-libxl.py {0} "
					      "/run/shim-{0}.log --no-domain-check -- {1} </dev/null >/dev/null 2>&1 &",
					      domid, argv, env.empty() ? "" : "env " + env));
		EXPECT_TRUE(r.ok() && r->ok());
		std::string pid;
		waitUntil([&] {
			pid = file(fmt::format("/run/shim-{}.pid", domid));
			return !pid.empty();
		});
		return std::atoi(pid.c_str());
	}

	std::string file(const std::string &path)
	{
		auto r = bed().sh("cat " + path + " 2>/dev/null");
		return r.ok() ? r->out : "";
	}

	/* The shim's exit status once it exited; "" while it runs. */
	std::string shimExit(uint32_t domid) { return file(fmt::format("/run/shim-{}.rc", domid)); }

	bool running(uint32_t domid) { return show(dmUnitName(domid), "ActiveState") == "active"; }
};

TEST_F(ShimTest, StartsThePvDmAndStopsItOnSigterm)
{
	(void)bed().sh("mkdir -p /run/xen && ln -sfn /run/nothing-here /run/xen/qmp-libxenstat-22");
	int shim = launch(22, pvArgv(22));
	ASSERT_GT(shim, 0);
	ASSERT_TRUE(
	    waitUntil([&] { return file("/run/shim-22.log").find("device model running") != std::string::npos; },
		      std::chrono::seconds(30)))
	    << file("/run/shim-22.log") << bed().journal("qemu-dm@22.service");
	EXPECT_TRUE(running(22));
	EXPECT_EQ(shimExit(22), "") << "the shim stays alive as the DM libxl tracks";
	/* The DM runs as its mapped user, with the QMP socket libxl opened and VNC on localhost. */
	EXPECT_EQ(processesOf(131072 + 22), 1);
	EXPECT_THAT(bed().sh("ps -o user= -u 131094")->out, HasSubstr("xen-qemuuser-22"));
	auto qmp = bed().run({ "python3", "-c",
			       "import socket; s=socket.socket(socket.AF_UNIX); s.connect('/run/shim-qmp-22.sock'); "
			       "print(s.recv(200).decode())" });
	ASSERT_TRUE(qmp.ok());
	EXPECT_THAT(qmp->out, HasSubstr("\"QMP\"")) << qmp->err;
	auto vnc = bed().run({ "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5922 && head -c 12 <&3" });
	ASSERT_TRUE(vnc.ok());
	EXPECT_EQ(vnc->out, "RFB 003.008\n");
	/* libxl's -runas/-chroot became ours. */
	std::string journal = bed().journal("qemu-dm@22.service", 50);
	EXPECT_THAT(journal,
		    HasSubstr("Replaced the caller's -chroot /var/run/xen/qemu-root-22 -> /run/qemu-dm/22/root"));
	/*
	 * libxenstat's socket (the allow-list view has no /run/xen): QEMU creates
	 * it in its own runtime dir, and libxl's path (/var/run/xen -> /run/xen)
	 * links to it, replacing a stale link; the link goes with the DM.
	 */
	EXPECT_THAT(bed().sh("tr '\\0' ' ' </proc/$(systemctl show -P MainPID qemu-dm@22.service)/cmdline")->out,
		    HasSubstr("path=/run/qemu-dm/22/qmp-libxenstat,server=on"));
	EXPECT_EQ(bed().sh("readlink /run/xen/qmp-libxenstat-22")->out, "/run/qemu-dm/22/qmp-libxenstat\n");

	ASSERT_TRUE(bed().run({ "kill", "-TERM", std::to_string(shim) })->ok());
	EXPECT_TRUE(waitUntil([&] { return !shimExit(22).empty(); }, std::chrono::seconds(30)));
	EXPECT_EQ(shimExit(22), "0");
	EXPECT_THAT(file("/run/shim-22.log"), HasSubstr("stopping qemu-dm@22.service"));
	EXPECT_FALSE(bed().sh("test -L /run/xen/qmp-libxenstat-22")->ok());
	expectNothingLeft(22);
}

TEST_F(ShimTest, RestoreHandsTheSavedStateAndOnlyTheConsoleLimit)
{
	/* libxl 4.17's restore: -incoming fd:15 (the saved state it opened) besides the QMP socket on 14, and
	 * XEN_QEMU_CONSOLE_LIMIT in the DM's environment; nothing else of libxl's environment reaches QEMU. */
	ASSERT_TRUE(bed().writeFile("/run/saved-state-42", "state-of-domain-42").ok());
	int shim = launch(42, pvArgv(42) + " -incoming fd:15 -report-fds -report-env",
			  "FAKE_LIBXL_STATE=/run/saved-state-42 XEN_QEMU_CONSOLE_LIMIT=1048576 LEAKY=secret");
	ASSERT_GT(shim, 0);
	ASSERT_TRUE(
	    waitUntil([&] { return file("/run/shim-42.log").find("device model running") != std::string::npos; },
		      std::chrono::seconds(30)))
	    << file("/run/shim-42.log") << bed().journal("qemu-dm@42.service");
	EXPECT_TRUE(waitUntil([&] {
		return bed().journal("qemu-dm@42.service", 50).find("dm-standin: running as") != std::string::npos;
	}));
	std::string journal = bed().journal("qemu-dm@42.service", 50);
	EXPECT_THAT(journal, HasSubstr("dm-standin: fds 14:socket 15:file\n"));
	EXPECT_THAT(journal, HasSubstr("dm-standin: incoming fd:15: 18 bytes: state-of-domain-42\n"));
	EXPECT_THAT(journal, HasSubstr("dm-standin: env XEN_QEMU_CONSOLE_LIMIT=1048576 LEAKY=unset "
				       "FAKE_LIBXL_STATE=unset\n"));
	auto qmp = bed().run({ "python3", "-c",
			       "import socket; s=socket.socket(socket.AF_UNIX); s.connect('/run/shim-qmp-42.sock'); "
			       "print(s.recv(200).decode())" });
	ASSERT_TRUE(qmp.ok());
	EXPECT_THAT(qmp->out, HasSubstr("\"QMP\"")) << qmp->err;
	ASSERT_TRUE(bed().run({ "kill", "-TERM", std::to_string(shim) })->ok());
	EXPECT_TRUE(waitUntil([&] { return shimExit(42) == "0"; }, std::chrono::seconds(30))) << shimExit(42);
	expectNothingLeft(42);

	/* A console limit that is not a number: refused, nothing started. */
	int bad = launch(43, pvArgv(43), "XEN_QEMU_CONSOLE_LIMIT=12x");
	ASSERT_GT(bad, 0);
	EXPECT_TRUE(waitUntil([&] { return !shimExit(43).empty(); }, std::chrono::seconds(30)));
	EXPECT_EQ(shimExit(43), "1");
	EXPECT_THAT(file("/run/shim-43.log"),
		    HasSubstr("domain 43: XEN_QEMU_CONSOLE_LIMIT '12x' is not a decimal number"));
	expectNothingLeft(43);
}

TEST_F(ShimTest, SigkillOfTheShimDestroysTheUnit)
{
	int shim = launch(23, pvArgv(23));
	ASSERT_GT(shim, 0);
	ASSERT_TRUE(waitUntil([&] { return running(23); }, std::chrono::seconds(30))) << file("/run/shim-23.log");
	ASSERT_TRUE(
	    waitUntil([&] { return file("/run/shim-23.log").find("device model running") != std::string::npos; }));
	ASSERT_TRUE(bed().run({ "kill", "-KILL", std::to_string(shim) })->ok());
	EXPECT_TRUE(waitUntil([&] { return show("qemu-dm@23.service", "ActiveState") == "inactive"; },
			      std::chrono::seconds(30)))
	    << file("/run/shim-23.log");
	EXPECT_THAT(file("/run/shim-23.log"), HasSubstr("qemu-dm-shim was killed, destroying qemu-dm@23.service"));
	expectNothingLeft(23);
	/* The same domid at once. */
	int again = launch(23, pvArgv(23));
	ASSERT_GT(again, 0);
	EXPECT_TRUE(
	    waitUntil([&] { return file("/run/shim-23.log").find("device model running") != std::string::npos; },
		      std::chrono::seconds(30)))
	    << file("/run/shim-23.log");
	ASSERT_TRUE(bed().run({ "kill", "-INT", std::to_string(again) })->ok());
	EXPECT_TRUE(waitUntil([&] { return shimExit(23) == "0"; }, std::chrono::seconds(30))) << shimExit(23);
	expectNothingLeft(23);
}

TEST_F(ShimTest, DmKilledByUidEndsTheShim)
{
	/* libxl's reaper: kill(-1, SIGKILL) as the DM's uid. */
	int shim = launch(24, pvArgv(24));
	ASSERT_GT(shim, 0);
	ASSERT_TRUE(
	    waitUntil([&] { return file("/run/shim-24.log").find("device model running") != std::string::npos; },
		      std::chrono::seconds(30)))
	    << file("/run/shim-24.log");
	ASSERT_TRUE(
	    bed().run({ "setpriv", "--reuid=131096", "--regid=65534", "--clear-groups", "kill", "-KILL", "-1" }).ok());
	EXPECT_TRUE(waitUntil([&] { return !shimExit(24).empty(); }, std::chrono::seconds(30)))
	    << file("/run/shim-24.log");
	EXPECT_EQ(shimExit(24), "0") << "SIGKILL is how libxl ends a DM: a normal end";
	expectNothingLeft(24);
}

TEST_F(ShimTest, FailingDmIsReportedInLibxlsLog)
{
	/* A disk that does not exist: the start fails, the shim exits 1, libxl's log has the reason. */
	int shim = launch(25, "-xen-domid 25 -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -machine xenfv "
			      "-drive file=/no/such/disk.img,if=ide,index=0,media=disk,format=raw");
	ASSERT_GT(shim, 0);
	EXPECT_TRUE(waitUntil([&] { return !shimExit(25).empty(); }, std::chrono::seconds(30)));
	EXPECT_EQ(shimExit(25), "1");
	EXPECT_THAT(file("/run/shim-25.log"),
		    HasSubstr("domain 25: disk /no/such/disk.img: No such file or directory"));
	expectNothingLeft(25);
	/* And a DM that fails after exec: its last journal lines reach the log. */
	int late = launch(26, "-xen-domid 26 -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -machine xenfv "
			      "-vnc 127.0.0.256:0");
	ASSERT_GT(late, 0);
	EXPECT_TRUE(waitUntil([&] { return !shimExit(26).empty(); }, std::chrono::seconds(30)));
	EXPECT_EQ(shimExit(26), "1") << file("/run/shim-26.log");
	EXPECT_THAT(file("/run/shim-26.log"), HasSubstr("dm-standin: bad -vnc 127.0.0.256:0"));
	expectNothingLeft(26);
}

TEST_F(ShimTest, DisksReachTheDmAsFdSetsNotPaths)
{
	/* Issue 14: libxl's -drive paths become fd sets QEMU opens after its chroot and uid drop. */
	ASSERT_TRUE(bed()
			.sh("mkdir -p /var/lib/shim-images && printf disk > /var/lib/shim-images/disk.img && "
			    "printf iso > /var/lib/shim-images/cd.iso")
			->ok());
	int shim =
	    launch(28, "-xen-domid 28 -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -machine xenfv "
		       "-report-fds -drive file=/var/lib/shim-images/disk.img,if=ide,index=0,media=disk,format=raw "
		       "-drive file=/var/lib/shim-images/cd.iso,if=ide,index=2,readonly=on,media=cdrom");
	ASSERT_GT(shim, 0);
	ASSERT_TRUE(
	    waitUntil([&] { return file("/run/shim-28.log").find("device model running") != std::string::npos; },
		      std::chrono::seconds(30)))
	    << file("/run/shim-28.log") << bed().journal("qemu-dm@28.service");
	ASSERT_TRUE(waitUntil([&] {
		return bed().journal("qemu-dm@28.service", 50).find("dm-standin: fds") != std::string::npos;
	})) << bed().journal("qemu-dm@28.service", 50);
	/* The read-write disk: fds 15 (O_RDWR) and 16 (O_RDONLY) of set 0; the CD-ROM: 17 (O_RDONLY) of set 1. */
	EXPECT_THAT(bed().journal("qemu-dm@28.service", 50),
		    HasSubstr("dm-standin: fds 14:socket 15:file 16:file 17:file\n"));
	std::string pid = show("qemu-dm@28.service", "MainPID");
	auto cmdline = bed().sh("tr '\\0' ' ' < /proc/" + pid + "/cmdline");
	ASSERT_TRUE(cmdline.ok());
	EXPECT_THAT(cmdline->out,
		    HasSubstr("-add-fd fd=15,set=0,opaque=qemu-dm:/var/lib/shim-images/disk.img -add-fd "
			      "fd=16,set=0,opaque=qemu-dm:/var/lib/shim-images/disk.img -drive "
			      "file=/dev/fdset/0,if=ide,index=0,media=disk,format=raw,auto-read-only=off"));
	EXPECT_THAT(cmdline->out, HasSubstr("-add-fd fd=17,set=1,opaque=qemu-dm:/var/lib/shim-images/cd.iso -drive "
					    "file=/dev/fdset/1,if=ide,index=2,readonly=on,media=cdrom"));
	EXPECT_THAT(cmdline->out, Not(HasSubstr("file=/var/lib")));
	auto modes = bed().sh("for f in 15 16 17; do awk '/^flags:/ { print substr($2, length($2)) }' /proc/" + pid +
			      "/fdinfo/$f; done | paste -sd ' '");
	ASSERT_TRUE(modes.ok());
	EXPECT_EQ(modes->out, "2 0 0\n") << "access modes of fds 15, 16, 17 (2: O_RDWR, 0: O_RDONLY)";
	/* No path of either in the unit: the DM's view needs none. */
	EXPECT_THAT(show("qemu-dm@28.service", "ReadWritePaths"), Not(HasSubstr("shim-images")));
	EXPECT_THAT(show("qemu-dm@28.service", "ReadOnlyPaths"), Not(HasSubstr("shim-images")));
	ASSERT_TRUE(bed().run({ "kill", "-TERM", std::to_string(shim) })->ok());
	EXPECT_TRUE(waitUntil([&] { return shimExit(28) == "0"; }, std::chrono::seconds(30))) << shimExit(28);
	expectNothingLeft(28);
	(void)bed().sh("rm -rf /var/lib/shim-images");
}

/* One QMP command on a socket, as a client other than qemu-dm: prints the reply (events skipped). */
const std::string kQmpPy = R"(import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
reply()
f.write('{"execute": "qmp_capabilities"}\n'); f.flush(); reply()
f.write(sys.argv[2] + "\n"); f.flush()
print(json.dumps(reply()))
)";

TEST_F(DmctlTest, CdromChangeHandsARealQemuTheMediumAndNotThePath)
{
	/* Debian's real QEMU 7.2 (TCG) as the DM, with libxl's empty CD-ROM drive and QMP socket. */
	if (!bed().sh("test -x " + kTcg)->ok())
		GTEST_SKIP() << kTcg << " is not installed (qemu-system-x86)";
	ASSERT_TRUE(bed().writeFile("/etc/qemu-dm-tests/qmp.py", kQmpPy).ok());
	ASSERT_TRUE(bed()
			.sh("mkdir -p /var/lib/cd-images && printf one > /var/lib/cd-images/one.iso && "
			    "printf two > /var/lib/cd-images/two.iso && truncate -s 64K /var/lib/cd-images/one.iso "
			    "/var/lib/cd-images/two.iso")
			->ok());
	const std::string sock = "/run/cdrom-qmp-30.sock";
	auto r = bed().sh(fmt::format(
	    "python3 -c 'import os, socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(\"{0}\"); s.listen(1); "
	    "os.dup2(s.fileno(), 0); os.execvp(\"qemu-dmctl\", sys.argv[1:])' qemu-dmctl start 30 "
	    "--no-domain-check --allow-jit --qmp-fd 14 -- {1} -accel tcg -machine pc -m 32 -nodefaults "
	    "-no-user-config -display none -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off "
	    "-mon chardev=libxl-cmd,mode=control -drive if=ide,index=2,readonly=on,media=cdrom,id=ide-5632",
	    sock, kTcg));
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message())
				       << bed().journal("qemu-dm@30.service");
	auto qmp = [&](const std::string &cmd) {
		auto q = bed().sh(fmt::format("python3 /etc/qemu-dm-tests/qmp.py {} '{}'", sock, cmd));
		return q.ok() ? q->out + q->err : q.error().message();
	};
	auto inserted = [&] { return qmp(R"({"execute": "query-block"})"); };
	ASSERT_TRUE(
	    waitUntil([&] { return inserted().find("ide-5632") != std::string::npos; }, std::chrono::seconds(30)))
	    << inserted() << bed().journal("qemu-dm@30.service", 30);
	EXPECT_THAT(inserted(), Not(HasSubstr("\"inserted\"")));

	auto ins = ctl({ "cdrom", "30", "hdc", "/var/lib/cd-images/one.iso", "--qmp-socket", sock });
	ASSERT_TRUE(ins.ok()) << ins.err << bed().journal("qemu-dm@30.service", 30);
	EXPECT_THAT(ins.out, HasSubstr("Inserted /var/lib/cd-images/one.iso into hdc of domain 30."));
	std::string blocks = inserted();
	EXPECT_THAT(blocks, HasSubstr("\"file\": \"/dev/fdset/"));
	EXPECT_THAT(blocks, HasSubstr("\"ro\": true"));
	EXPECT_THAT(blocks, Not(HasSubstr("one.iso")));

	/* The DM opening the ISO beside it by path: refused (it runs as its user, chrooted), medium unchanged. */
	std::string byPath = qmp(R"({"execute": "blockdev-change-medium", "arguments": {"device": "ide-5632", )"
				 R"("filename": "/var/lib/cd-images/two.iso", "format": "raw"}})");
	EXPECT_THAT(byPath, HasSubstr("Could not open '/var/lib/cd-images/two.iso'"));
	EXPECT_THAT(inserted(), HasSubstr("\"file\": \"/dev/fdset/"));

	/* Bad input: one clear error naming the domain, nothing reaches QEMU. */
	auto bad = ctl({ "cdrom", "30", "hdc", "/etc/shadow", "--qmp-socket", sock });
	EXPECT_EQ(bad.exitStatus, 1);
	EXPECT_THAT(bad.err, HasSubstr("domain 30: medium /etc/shadow is in /etc"));
	auto noDrive = ctl({ "cdrom", "30", "ide-9999", "/var/lib/cd-images/two.iso", "--qmp-socket", sock });
	EXPECT_EQ(noDrive.exitStatus, 1);
	EXPECT_THAT(noDrive.err, HasSubstr("domain 30: Failed to insert /var/lib/cd-images/two.iso into ide-9999: "
					   "QMP blockdev-change-medium failed:"));

	auto ej = ctl({ "cdrom", "30", "hdc", "--eject", "--qmp-socket", sock });
	ASSERT_TRUE(ej.ok()) << ej.err;
	EXPECT_THAT(inserted(), Not(HasSubstr("\"inserted\"")));
	EXPECT_TRUE(ctl({ "stop", "30" }).ok());
	expectNothingLeft(30);
	(void)bed().sh("rm -rf /var/lib/cd-images /run/cdrom-qmp-30.sock");
}

TEST_F(ShimTest, PolicyFromArgvPrintsWhatTheShimSends)
{
	auto r = ctl({ "policy", "--from-argv", "--no-domain-check", "--", "-xen-domid", "27", "-name", "web",
		       "-machine", "xenpv", "-vnc", "127.0.0.1:0,to=99", "-runas", "131099:995", "-chroot",
		       "/var/run/xen/qemu-root-27" });
	ASSERT_TRUE(r.ok()) << r.err;
	EXPECT_THAT(r.out, HasSubstr("LogExtraFields=XEN_DOMAIN_NAME=web"));
	EXPECT_THAT(r.out, HasSubstr("IPAddressAllow=localhost"));
	EXPECT_THAT(r.out, HasSubstr("PrivateNetwork=no"));
	EXPECT_THAT(r.out, HasSubstr("--type pv"));
	EXPECT_THAT(r.out, HasSubstr(kStandin + " -xen-domid 27 -name web"));
	auto bad = ctl({ "policy", "--from-argv", "--", "-xen-domid", "27", "-vnc", "0.0.0.0:0" });
	EXPECT_EQ(bad.exitStatus, 2);
	EXPECT_THAT(bad.err, HasSubstr("domain 27: -vnc 0.0.0.0:0 listens beyond localhost"));

	/* Issue 10: what the shim derives from libxl's argv obeys the same rules as declared values. */
	ASSERT_TRUE(bed().sh("touch /tmp/shim.img && ln -sf /etc/shadow /var/lib/shim-shadow.img")->ok());
	struct Case {
		std::string arg, value, message;
	};
	const std::vector<Case> cases = {
		{ "-drive", "file=/var/lib/shim-shadow.img,if=ide,index=0,media=disk,format=raw",
		  "domain 27: disk /var/lib/shim-shadow.img: /var/lib/shim-shadow.img is a symbolic link" },
		{ "-drive", "file=/tmp/shim.img,if=ide,index=0,media=disk,format=raw",
		  "domain 27: disk /tmp/shim.img: its directory /tmp is writable by every user" },
		{ "-drive", "file=/etc/shadow,if=ide,index=0,media=disk,format=raw", "in /etc, a system location" },
		{ "-incoming", "file:/etc/ssh/ssh_host_ed25519_key", "domain 27: path /etc/ssh/ssh_host_ed25519_key" },
		{ "-name", "web\x1b[2J", "domain 27: the domain name 'web\\x1b[2J' is not accepted" },
	};
	for (const auto &c : cases) {
		auto refused =
		    ctl({ "policy", "--from-argv", "--no-domain-check", "--", "-xen-domid", "27", c.arg, c.value });
		EXPECT_EQ(refused.exitStatus, 1) << c.value << ": " << refused.err;
		EXPECT_THAT(refused.err, HasSubstr(c.message)) << c.value;
		EXPECT_EQ(refused.out, "") << c.value;
	}
	(void)bed().sh("rm -f /tmp/shim.img /var/lib/shim-shadow.img");
}

TEST_F(ShimTest, CApiStartsFromLibxlsArgv)
{
	auto out = bed().inside([&]() -> std::string {
		int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_un sa{};
		sa.sun_family = AF_UNIX;
		std::strcpy(sa.sun_path, "/run/capi-argv-qmp.sock");
		::unlink(sa.sun_path);
		if (l < 0 || ::bind(l, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 || ::listen(l, 4) < 0 ||
		    ::dup2(l, 15) < 0)
			return "cannot listen";
		::close(l);
		const char *argv[] = { "qemu-dm-shim",
				       "-xen-domid",
				       "28",
				       "-chardev",
				       "socket,id=libxl-cmd,fd=15,server=on,wait=off",
				       "-name",
				       "capi-argv",
				       "-machine",
				       "xenfv",
				       "-qmp-fd",
				       "15",
				       nullptr };
		qemu_dm_options *o = nullptr;
		uint32_t domid = 0;
		char *err = nullptr;
		int r = qemu_dm_options_from_qemu_argv(argv, &o, &domid, &err);
		if (r < 0) {
			std::string e = err ? err : "?";
			qemu_dm_free(err);
			return "from_qemu_argv failed: " + e;
		}
		qemu_dm_options_set_domain_check(o, 0);
		r = qemu_dm_start(domid, nullptr, o, &err);
		qemu_dm_options_free(o);
		::close(15);
		if (r < 0) {
			std::string e = err ? err : "?";
			qemu_dm_free(err);
			return "start failed: " + e;
		}
		int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char buf[512] = {};
		bool qmp = ::connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0 &&
			   ::read(c, buf, sizeof(buf) - 1) > 0 && std::strstr(buf, "\"QMP\"");
		::close(c);
		r = qemu_dm_stop(domid, 10, &err);
		qemu_dm_free(err);
		return fmt::format("{}|{}|{}", domid, qmp ? "qmp-ok" : buf, r);
	});
	ASSERT_TRUE(out.ok()) << out.error().message();
	EXPECT_EQ(*out, "28|qmp-ok|0");
	expectNothingLeft(28);
}

TEST_F(DmctlTest, BadInputGetsOneClearErrorAndStartsNothing)
{
	struct Case {
		std::vector<std::string> args;
		int exit;
		std::string message;
	};
	const std::vector<Case> cases = {
		{ { "start", "0", "--", kStandin }, 2, "invalid domain id '0'" },
		{ { "start", "32752", "--", kStandin }, 2, "invalid domain id '32752'" },
		{ { "start", "-1", "--", kStandin }, 2, "invalid domain id '-1'" },
		{ { "start", "abc", "--", kStandin }, 2, "invalid domain id 'abc'" },
		{ { "start", "12", "--no-domain-check", "--", "/usr/bin/no-such-qemu" }, 1, "no-such-qemu" },
		{ { "start", "12", "--no-domain-check", "--user", "root", "--", kStandin }, 1, "domain 12" },
		{ { "start", "12", "--no-domain-check", "--disk", "/no/such/disk.img", "--", kStandin },
		  1,
		  "disk /no/such/disk.img" },
		{ { "start", "12", "--bogus", "--", kStandin }, 2, "unknown option '--bogus'" },
		/* Issue 10, class 1: names with one alphabet; no control character reaches a terminal. */
		{ { "start", "12", "--no-domain-check", "--name", "web\x1b]0;owned\x07", "--", kStandin },
		  1,
		  "domain 12: the domain name 'web\\x1b]0;owned\\x07' is not accepted" },
		{ { "start", "12", "--no-domain-check", "--name", "a b", "--", kStandin },
		  1,
		  "domain 12: the domain name 'a b' is not accepted" },
		{ { "start", "12", "--no-domain-check", "--user", "dm user", "--", kStandin },
		  1,
		  "domain 12: the device_model_user 'dm user' is not accepted" },
	};
	for (const auto &c : cases) {
		auto r = ctl(c.args);
		EXPECT_EQ(r.exitStatus, c.exit) << c.args[1] << ": " << r.err;
		EXPECT_THAT(r.err, HasSubstr(c.message)) << c.args[1];
		EXPECT_EQ(r.out, "");
	}
	auto root = ctl({ "start", "12", "--no-domain-check", "--user", "root", "--", kStandin });
	EXPECT_THAT(root.err, HasSubstr("root"));
	expectNothingLeft(12);
	EXPECT_EQ(ctl({ "list" }).out.find("qemu-dm@12"), std::string::npos);
}

TEST_F(DmctlTest, RunningDomainAndDuplicateUserAreRefused)
{
	ASSERT_TRUE(ctl({ "start", "13", "--no-domain-check", "--", kStandin }).ok());
	auto again = ctl({ "start", "13", "--no-domain-check", "--", kStandin });
	EXPECT_EQ(again.exitStatus, 1);
	EXPECT_THAT(again.err, HasSubstr("domain 13: a device model is already running"));
	EXPECT_EQ(show("qemu-dm@13.service", "ActiveState"), "active") << "the running DM was disturbed";

	ASSERT_TRUE(ctl({ "start", "14", "--no-domain-check", "--user", "dmuser-a", "--", kStandin }).ok());
	auto dup = ctl({ "start", "15", "--no-domain-check", "--user", "dmuser-a", "--", kStandin });
	EXPECT_EQ(dup.exitStatus, 1);
	EXPECT_THAT(dup.err, HasSubstr("domain 15"));
	EXPECT_THAT(dup.err, HasSubstr("dmuser-a"));
	expectNothingLeft(15);
}

TEST_F(DmctlTest, MissingRangeBaseUserIsAClearError)
{
	ASSERT_TRUE(bed().sh("userdel xen-qemuuser-range-base")->ok());
	auto r = ctl({ "start", "16", "--no-domain-check", "--", kStandin });
	(void)bed().sh("useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
		       "--uid 131072 --user-group xen-qemuuser-range-base");
	EXPECT_EQ(r.exitStatus, 1);
	EXPECT_THAT(r.err, HasSubstr("domain 16"));
	EXPECT_THAT(r.err, HasSubstr("xen-qemuuser-range-base"));
	expectNothingLeft(16);
}

TEST_F(DmctlTest, PolicyOutputFedToSystemdRunStartsAnEquivalentUnit)
{
	/*
	 * Hostile-looking argv values: each must reach QEMU
	 * as one argument, unchanged: no word splitting, no specifier, no prefix
	 * meaning, also after systemd re-read the unit ('$', ';', '`' and control
	 * characters are refused: ArgumentsSystemdCannotKeepAreRefused).
	 */
	const std::vector<std::string> hostile = { "%n",   "%h", "a b", "q\"uote", "back\\slash",
						   "it's", "-x", "+y",	"~z",	   ":w",
						   "@v",   "",	 "é",	"--",	   "x=%%,y=:z" };
	std::vector<std::string> args = { "policy", "17", "--name", "pol", "--no-domain-check", "--", kStandin };
	args.insert(args.end(), hostile.begin(), hostile.end());
	auto policy = ctl(args);
	ASSERT_TRUE(policy.ok()) << policy.err;
	EXPECT_THAT(policy.out, HasSubstr("LogExtraFields=XEN_DOMID=17"));
	EXPECT_THAT(policy.out, HasSubstr("ExecStart="));
	EXPECT_THAT(policy.out,
		    HasSubstr(" %%n %%h \"a b\" \"q\\\"uote\" \"back\\\\slash\" \"it's\" -x +y ~z :w @v \"\" \"é\" -- "
			      "x=%%%%,y=:z\n"));

	/*
	 * Feed every line to systemd-run as -p, under another name; the
	 * ExecStart= line as systemd reads unit files, from a drop-in (systemd-run
	 * wants a command: /bin/false, which the drop-in's "ExecStart=" resets).
	 */
	std::string script = R"SH(set -e
props=()
d=/run/systemd/system/qemu-dm@18.service.d
mkdir -p $d
while IFS= read -r line; do
  case $line in
    ExecStart=*) printf '[Service]\nExecStart=\n%s\n' "$line" > $d/90-exec.conf ;;
    *) props+=(-p "$line") ;;
  esac
done
systemctl daemon-reload
systemd-run -q --unit=qemu-dm@18.service "${props[@]}" /bin/false)SH";
	auto r = bed().run({ "bash", "-c", script }, std::chrono::seconds(30), policy.out);
	(void)bed().sh("rm -rf /run/systemd/system/qemu-dm@18.service.d");
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
	auto argvOf = [&](const std::string &unit) {
		auto c = bed().sh(fmt::format("tr '\\0' '\\1' < /proc/$(systemctl show -P MainPID {})/cmdline", unit));
		std::vector<std::string> v;
		if (!c.ok())
			return v;
		std::string cur;
		for (char ch : c->out) {
			if (ch == '\1') {
				v.push_back(cur);
				cur.clear();
			} else
				cur += ch;
		}
		return v;
	};
	/* The hostile arguments as QEMU got them: from the first one on, as many as were declared. */
	auto tail = [&](std::vector<std::string> v) {
		auto b = std::find(v.begin(), v.end(), hostile[0]);
		if (size_t(v.end() - b) < hostile.size())
			return v;
		return std::vector<std::string>(b, b + long(hostile.size()));
	};
	auto viaSystemdRunArgv = argvOf("qemu-dm@18.service");
	EXPECT_EQ(tail(viaSystemdRunArgv), hostile) << "what systemd read back from the policy";

	/* One at a time: both run as domain 17's uid. */
	const std::vector<std::string> props = { "ProtectSystem",
						 "CapabilityBoundingSet",
						 "SystemCallFilter",
						 "NoNewPrivileges",
						 "RuntimeDirectory",
						 "LogExtraFields",
						 "Slice",
						 "LimitCORE",
						 "TasksMax",
						 "PrivateNetwork",
						 "MemoryDenyWriteExecute",
						 "Description",
						 "SyslogIdentifier",
						 "TimeoutStopUSec",
						 "Environment" };
	auto snapshot = [&](const std::string &unit) {
		std::vector<std::string> v;
		for (const auto &p : props)
			v.push_back(p + "=" + show(unit, p));
		auto exec = show(unit, "ExecStart");
		auto b = exec.find("argv[]="), e = exec.find(" ; ignore_errors");
		v.push_back(b == std::string::npos ? exec : exec.substr(b, e - b));
		return v;
	};
	auto viaSystemdRun = snapshot("qemu-dm@18.service");
	ASSERT_TRUE(bed().run({ "systemctl", "stop", "qemu-dm@18.service" })->ok());
	(void)bed().sh("systemctl daemon-reload");
	args[0] = "start";
	ASSERT_TRUE(ctl(args).ok());
	auto viaQemuDmctl = snapshot("qemu-dm@17.service");
	EXPECT_EQ(tail(argvOf("qemu-dm@17.service")), hostile) << "what QEMU got from start";
	/*
	 * systemd reads the transient unit file back on daemon-reload (package
	 * updates do that): the unit must stay loaded and running (ExecStartEx=
	 * would not: systemd 252 cannot parse back what it wrote for it), with
	 * the same values, and a start from what it re-read runs the same argv.
	 */
	ASSERT_TRUE(bed().sh("systemctl daemon-reload")->ok());
	EXPECT_EQ(show("qemu-dm@17.service", "LoadState"), "loaded");
	EXPECT_EQ(show("qemu-dm@17.service", "ActiveState"), "active");
	EXPECT_EQ(viaSystemdRun, viaQemuDmctl);
	EXPECT_EQ(viaQemuDmctl[0], "ProtectSystem=strict");
	EXPECT_EQ(snapshot("qemu-dm@17.service"), viaQemuDmctl) << "what systemd re-read from its transient unit file";
	ASSERT_TRUE(bed().run({ "systemctl", "restart", "qemu-dm@17.service" })->ok());
	EXPECT_EQ(tail(argvOf("qemu-dm@17.service")), hostile) << "what QEMU got from the re-read unit";
}

TEST_F(DmctlTest, ArgumentsSystemdCannotKeepAreRefused)
{
	/*
	 * systemd 252 writes a transient ExecStart= shell-quoted ("\\$", "\\;",
	 * "\\`") and keeps those backslashes when it reads the file back on
	 * daemon-reload: "$HOME" sent (even as "$$HOME") would be "\\$\\$HOME"
	 * afterwards. Such arguments are refused before anything starts.
	 */
	for (std::string arg : { "$HOME", "${PATH}", "a;b", ";", "`id`", "tab\there" }) {
		auto r = ctl({ "start", "19", "--no-domain-check", "--", kStandin, "-name", arg });
		EXPECT_EQ(r.exitStatus, 1) << arg << ": " << r.err;
		EXPECT_THAT(r.err, HasSubstr("domain 19: refusing QEMU argument 2: '")) << arg;
		auto p = ctl({ "policy", "19", "--no-domain-check", "--", kStandin, "-name", arg });
		EXPECT_EQ(p.exitStatus, 1) << arg;
		EXPECT_EQ(p.out, "") << arg;
		expectNothingLeft(19);
	}
}

TEST_F(DmctlTest, DeclaredPathsReachTheUnitAsOneElementEach)
{
	/* Every character the declared-path alphabet allows besides [A-Za-z0-9/]: one path, one element. */
	const std::string dir = "/var/lib/qdm-odd", disk = dir + "/a+b~c,d=e@f_g-h.i.img", ro = dir + "/ro.img";
	ASSERT_TRUE(bed().sh(fmt::format("mkdir -p {} && touch {} {}", dir, disk, ro))->ok());
	auto policy =
	    ctl({ "policy", "23", "--no-domain-check", "--disk", disk, "--disk", ro + ":ro", "--", kStandin });
	ASSERT_TRUE(policy.ok()) << policy.err;
	/* Bound into the allow-list view, one source:destination pair each. */
	EXPECT_THAT(policy.out, HasSubstr("\nBindPaths=" + disk + "\n"));
	EXPECT_THAT(policy.out, HasSubstr("\nBindReadOnlyPaths=" + ro + "\n"));
	auto r = ctl({ "start", "23", "--no-domain-check", "--disk", disk, "--disk", ro + ":ro", "--", kStandin });
	ASSERT_TRUE(r.ok()) << r.err;
	/* The unit's lists also hold the host policy's paths: ours must be one word each. */
	auto words = [&](const std::string &prop) {
		std::vector<std::string> v;
		std::istringstream is(show("qemu-dm@23.service", prop));
		for (std::string w; is >> w;)
			v.push_back(w);
		return v;
	};
	EXPECT_THAT(words("BindPaths"), ::testing::Contains(disk + ":" + disk + ":rbind"));
	EXPECT_THAT(words("BindReadOnlyPaths"), ::testing::Contains(ro + ":" + ro + ":rbind"));
	auto before = std::make_pair(words("BindPaths"), words("BindReadOnlyPaths"));
	ASSERT_TRUE(bed().sh("systemctl daemon-reload")->ok());
	EXPECT_EQ(std::make_pair(words("BindPaths"), words("BindReadOnlyPaths")), before) << "after daemon-reload";
	(void)ctl({ "stop", "23" });
	(void)bed().sh("rm -rf " + dir);
}

TEST_F(DmctlTest, CheckReportsTheHostAndExitsWithTheWorstResult)
{
	auto r = ctl({ "check" });
	/* No hypervisor in the test bed: the worst result is a failure. */
	EXPECT_EQ(r.exitStatus, 2) << r.out << r.err;
	EXPECT_THAT(r.out, HasSubstr("FAIL  Xen hypervisor"));
	EXPECT_THAT(r.out, ::testing::ContainsRegex("PASS  User database +: "));
	EXPECT_THAT(r.out, ::testing::ContainsRegex("PASS  NSS +: "));
	EXPECT_THAT(r.out, ::testing::ContainsRegex("PASS  systemd version +: "));
	EXPECT_THAT(r.out, ::testing::ContainsRegex("PASS  Range base user +: "));

	/* --json: the same results, valid JSON, the same exit status. */
	auto j = ctl({ "check", "--json" });
	EXPECT_EQ(j.exitStatus, 2) << j.out << j.err;
	auto v = json::parse(j.out);
	ASSERT_TRUE(v.ok()) << v.error().message() << ": " << j.out;
	ASSERT_TRUE(v->isArray());
	bool xenFails = false, userdbPasses = false;
	for (const auto &c : v->items()) {
		ASSERT_TRUE(c.isObject());
		const std::string *name = c.find("name")->asString();
		const std::string *level = c.find("level")->asString();
		ASSERT_TRUE(name && level && c.find("detail")->asString() && c.find("hint")->asString());
		xenFails |= *name == "Xen hypervisor" && *level == "fail";
		userdbPasses |= *name == "User database" && *level == "pass";
	}
	EXPECT_TRUE(xenFails) << j.out;
	EXPECT_TRUE(userdbPasses) << j.out;
}

TEST_F(DmctlTest, MissingHostPolicyFailsClosed)
{
	/* As if the generator never ran: no drop-ins, so a DM would only get its per-domain properties. */
	ASSERT_TRUE(bed().sh("mv /run/systemd/generator/qemu-dm@.service.d /run/qemu-dm-policy-away")->ok());
	auto r = ctl({ "start", "19", "--no-domain-check", "--", kStandin });
	(void)bed().sh("mv /run/qemu-dm-policy-away /run/systemd/generator/qemu-dm@.service.d");
	EXPECT_EQ(r.exitStatus, 1);
	EXPECT_THAT(r.err, HasSubstr("domain 19: refusing to start: the host policy"));
	expectNothingLeft(19);
}

/*
 * Issue 10, class 2: declaring something is granting it, so nothing but a
 * disk may be declared as one. Each of these started a DM on main (the
 * space case granted /etc/shadow writable: ReadWritePaths= split it in two).
 */
TEST_F(DmctlTest, DeclaredObjectsThatAreNoDisksAreRefused)
{
	auto setup = bed().sh("set -e; d=/var/lib/qdm-images; mkdir -p $d/dir \"$d/x /etc\" $d/x; "
			      "touch $d/ok.img \"$d/x /etc/shadow\" /tmp/qdm.img; ln -sf /etc/shadow $d/shadow.img; "
			      "ln -sfn /etc $d/etc-link");
	ASSERT_TRUE(setup.ok() && setup->ok()) << (setup.ok() ? setup->err : setup.error().message());
	struct Case {
		std::vector<std::string> decl;
		std::string message;
	};
	const std::vector<Case> cases = {
		{ { "--disk", "/var/lib/qdm-images/shadow.img" }, "/var/lib/qdm-images/shadow.img is a symbolic link" },
		{ { "--disk", "/var/lib/qdm-images/etc-link/shadow" },
		  "/var/lib/qdm-images/etc-link is a symbolic link" },
		{ { "--disk", "/var/lib/qdm-images/x /etc/shadow" }, "characters qemu-dm does not accept" },
		{ { "--disk", "/tmp/qdm.img" }, "its directory /tmp is writable by every user" },
		{ { "--disk", "/etc" }, "in /etc, a system location" },
		{ { "--path", "/etc/ssh" }, "in /etc, a system location" },
		{ { "--path", "/var/lib/qdm-images/dir:rw" }, "is a directory, not a regular file or block device" },
		{ { "--disk", "/run/systemd/private" }, "in /run, a system location" },
		{ { "--device", "/dev/mem" }, "never handed to a device model" },
		{ { "--disk", "/dev/null" }, "is a character device" },
	};
	for (const auto &c : cases) {
		std::vector<std::string> args = { "start", "22", "--no-domain-check" };
		args.insert(args.end(), c.decl.begin(), c.decl.end());
		args.insert(args.end(), { "--", kStandin });
		auto r = ctl(args);
		EXPECT_EQ(r.exitStatus, 1) << c.decl[1] << ": " << r.err;
		EXPECT_THAT(r.err, HasSubstr("domain 22: ")) << c.decl[1];
		EXPECT_THAT(r.err, HasSubstr(c.message)) << c.decl[1];
		expectNothingLeft(22);
		if (r.exitStatus == 0)
			(void)ctl({ "stop", "22" });
	}
	/* A regular image in an image directory below /var/lib is fine. */
	auto ok = ctl({ "start", "22", "--no-domain-check", "--disk", "/var/lib/qdm-images/ok.img", "--", kStandin });
	EXPECT_TRUE(ok.ok()) << ok.err;
	/* Bound into the allow-list view (read-write: a disk without :ro). */
	EXPECT_THAT(show("qemu-dm@22.service", "BindPaths"), HasSubstr("/var/lib/qdm-images/ok.img"));
	(void)bed().sh("rm -rf /var/lib/qdm-images /tmp/qdm.img");
}

/*
 * The never-root privilege model in a real systemd: the generator
 * writes the never-root host policy, the unit runs as the domain's user from
 * exec (systemd resolves User= through qemu-dm-userdb, which answers while the
 * transient unit is loaded), no capability in any set, and qemu-dm-exec
 * refuses a unit that would give it one.
 */
class NeverRootTest : public DmctlTest
{
protected:
	void SetUp() override
	{
		DmctlTest::SetUp();
		ASSERT_TRUE(
		    bed().writeFile("/etc/xen/qemu-dm.conf", "[Device Model]\nPrivilegeModel=never-root\n").ok());
		auto r = bed().run({ "systemctl", "daemon-reload" });
		ASSERT_TRUE(r.ok() && r->ok());
	}
	void TearDown() override
	{
		DmctlTest::TearDown();
		(void)bed().sh("rm -rf /etc/xen/qemu-dm.conf /run/systemd/system/qemu-dm@.service.d; "
			       "systemctl daemon-reload");
	}

	std::string statusOf(const std::string &pid)
	{
		auto r = bed().sh("grep -E '^(Uid|Gid|Groups|Cap...|NoNewPrivs):' /proc/" + pid + "/status");
		return r.ok() ? r->out : "";
	}
};

TEST_F(NeverRootTest, TheDmRunsAsItsUserFromExecWithNoCapabilities)
{
	auto generated = bed().sh("cat /run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-hardening.conf");
	ASSERT_TRUE(generated.ok());
	EXPECT_THAT(generated->out, HasSubstr("\nCapabilityBoundingSet=\nAmbientCapabilities=\n"));

	auto r = ctl({ "start", "61", "--type", "pv", "--no-domain-check", "--", kStandin, "-runas", "0:0", "-chroot",
		       "/var/run/xen/qemu-root-61" });
	ASSERT_TRUE(r.ok()) << r.err << bed().journal("qemu-dm@61.service");
	const std::string unit = "qemu-dm@61.service";
	EXPECT_EQ(show(unit, "User"), "xen-qemuuser-61");
	EXPECT_EQ(show(unit, "Group"), "xen-qemuuser-61");
	EXPECT_THAT(show(unit, "ExecStart"), HasSubstr("--never-root --runas 131133:131133"));
	auto pid = show(unit, "MainPID");
	ASSERT_NE(pid, "0");
	std::string st = statusOf(pid);
	EXPECT_THAT(st, HasSubstr("Uid:\t131133\t131133\t131133\t131133\n")) << st;
	EXPECT_THAT(st, HasSubstr("Gid:\t131133\t131133\t131133\t131133\n")) << st;
	for (const char *cap : { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" })
		EXPECT_THAT(st, HasSubstr(std::string(cap) + ":\t0000000000000000\n")) << st;
	EXPECT_THAT(st, HasSubstr("NoNewPrivs:\t1\n")) << st;
	/* PrivateUsers=yes: a user namespace of its own, the ids mapped 1:1 (the host sees the real uid above). */
	auto ns = bed().sh("readlink /proc/1/ns/user /proc/" + pid + "/ns/user; cat /proc/" + pid + "/uid_map");
	ASSERT_TRUE(ns.ok());
	auto nl = ns->out.find('\n');
	EXPECT_NE(ns->out.substr(0, nl), ns->out.substr(nl + 1, ns->out.find('\n', nl + 1) - nl - 1)) << ns->out;
	EXPECT_THAT(ns->out, ::testing::ContainsRegex("131133 +131133 +1\n")) << ns->out;
	/* QEMU got neither the caller's -runas 0:0 nor its -chroot, and nothing in their place. */
	auto cmdline = bed().sh("tr '\\0' ' ' </proc/" + pid + "/cmdline");
	ASSERT_TRUE(cmdline.ok());
	EXPECT_THAT(cmdline->out, Not(HasSubstr("-runas"))) << cmdline->out;
	EXPECT_THAT(cmdline->out, Not(HasSubstr("-chroot"))) << cmdline->out;
	/* It never dropped: it started as that user (the stand-in prints its ids before it would drop). */
	EXPECT_TRUE(waitUntil([&] {
		return bed().journal(unit, 50).find("dm-standin: running as uid 131133 gid 131133") !=
		       std::string::npos;
	})) << bed().journal(unit, 50);
	std::string journal = bed().journal(unit, 50);
	EXPECT_THAT(journal, HasSubstr("Removed the caller's -runas 0:0"));
	EXPECT_THAT(journal, HasSubstr("Removed the caller's -chroot /var/run/xen/qemu-root-61"));
	/*
	 * PV: every node, gntdev too, was the unit's for its start only: once the
	 * start returned, qemu-dm-ready@ had reset DeviceAllow= (the window
	 * itself is test-grant's).
	 */
	auto devices = bed().run({ "systemctl", "show", "-p", "DeviceAllow", unit });
	ASSERT_TRUE(devices.ok());
	EXPECT_THAT(devices->out, Not(HasSubstr("/dev/xen"))) << devices->out;
	EXPECT_EQ(show("qemu-dm-ready@61.service", "ActiveState"), "active");
	auto ps = bed().sh("ps -o user:20=,group:20= -p " + pid);
	EXPECT_THAT(ps->out, HasSubstr("xen-qemuuser-61"));

	ASSERT_TRUE(ctl({ "stop", "61" }).ok());
	expectNothingLeft(61);
	EXPECT_FALSE(bed().run({ "getent", "passwd", "131133" })->ok()) << "the user outlived its unit";
}

TEST_F(NeverRootTest, ACapabilityInTheUnitIsRefusedBeforeQemu)
{
	/* An administrator's drop-in (or a broken generator) that hands the DM a capability. */
	ASSERT_TRUE(bed()
			.writeFile("/run/systemd/system/qemu-dm@.service.d/99-test-caps.conf",
				   "[Service]\nCapabilityBoundingSet=CAP_CHOWN\nAmbientCapabilities=CAP_CHOWN\n")
			.ok());
	ASSERT_TRUE(bed().run({ "systemctl", "daemon-reload" })->ok());
	auto r = ctl({ "start", "62", "--no-domain-check", "--", kStandin });
	EXPECT_NE(r.exitStatus, 0);
	EXPECT_THAT(r.err, HasSubstr("domain 62"));
	std::string journal = bed().journal("qemu-dm@62.service", 50);
	EXPECT_THAT(journal, HasSubstr("Refusing to start the device model: holding capabilities")) << journal;
	EXPECT_THAT(journal, Not(HasSubstr("dm-standin: running as"))) << journal;
	expectNothingLeft(62);
}

TEST_F(NeverRootTest, TheCallersEmulatedNicIsRefusedWithTheReason)
{
	auto r = ctl({ "start", "63", "--no-domain-check", "--tap", "vif63.0-emu", "--", kStandin });
	EXPECT_EQ(r.exitStatus, 1);
	EXPECT_THAT(r.err, HasSubstr("domain 63: emulated NICs (vif63.0-emu)"));
	expectNothingLeft(63);
}

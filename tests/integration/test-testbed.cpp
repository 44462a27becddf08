/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Proves the test bed itself: it is a real, private systemd; a transient unit
 * started over D-Bus inside it really runs confined (asserted from outside the
 * unit); and it leaves nothing behind, also when its owner crashes.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <systemd/sd-bus.h>

#include "c_ptr.h"
#include "testbed_fixture.h"
#include "test_util.h"

using namespace qemudm;
using qemudm::test::procStatusField;
using qemudm::test::slurp;
using namespace qemudm::testbed;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

using BusPtr = CPtr<sd_bus, sd_bus_flush_close_unref>;
using MessagePtr = CPtr<sd_bus_message, sd_bus_message_unref>;

std::string nsLink(pid_t pid, const char *ns)
{
	return fs::read_symlink(fs::path("/proc") / (pid ? std::to_string(pid) : "self") / "ns" / ns).string();
}

class TestBedTest : public TestBedSuite
{
protected:
	/*
	 * StartTransientUnit over systemd's private socket, from a process that
	 * joined the bed's namespaces (systemd refuses peers it cannot see).
	 * Returns "" or the reason it failed.
	 */
	static std::string startTransient(const std::string &unit, const std::vector<std::string> &argv)
	{
		sd_bus *raw = nullptr;
		if (sd_bus_new(&raw) < 0)
			return "sd_bus_new failed";
		BusPtr bus(raw);
		if (sd_bus_set_address(bus.get(), "unix:path=/run/systemd/private") < 0 || sd_bus_start(bus.get()) < 0)
			return "cannot connect to /run/systemd/private";

		sd_bus_message *m = nullptr;
		if (sd_bus_message_new_method_call(bus.get(), &m, "org.freedesktop.systemd1",
						   "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
						   "StartTransientUnit") < 0)
			return "cannot create the message";
		MessagePtr msg(m);
		int r = 0;
		auto ok = [&](int v) { r = r < 0 ? r : v; };
		ok(sd_bus_message_append(m, "ss", unit.c_str(), "fail"));
		ok(sd_bus_message_open_container(m, 'a', "(sv)"));
		ok(sd_bus_message_append(m, "(sv)", "Description", "s", "test bed confinement probe"));
		ok(sd_bus_message_append(m, "(sv)", "ProtectSystem", "s", "strict"));
		ok(sd_bus_message_append(m, "(sv)", "PrivateDevices", "b", 1));
		ok(sd_bus_message_append(m, "(sv)", "User", "s", "xen-qemuuser-5"));
		ok(sd_bus_message_append(m, "(sv)", "SystemCallFilter", "(bas)", 1, 1, "@system-service"));
		ok(sd_bus_message_open_container(m, 'r', "sv"));
		ok(sd_bus_message_append(m, "s", "ExecStart"));
		ok(sd_bus_message_open_container(m, 'v', "a(sasb)"));
		ok(sd_bus_message_open_container(m, 'a', "(sasb)"));
		ok(sd_bus_message_open_container(m, 'r', "sasb"));
		ok(sd_bus_message_append(m, "s", argv[0].c_str()));
		ok(sd_bus_message_open_container(m, 'a', "s"));
		for (const auto &a : argv)
			ok(sd_bus_message_append(m, "s", a.c_str()));
		ok(sd_bus_message_close_container(m));
		ok(sd_bus_message_append(m, "b", 0));
		for (int i = 0; i < 5; i++) /* r(sasb), a, v, r(sv), a(sv) */
			ok(sd_bus_message_close_container(m));
		ok(sd_bus_message_append(m, "a(sa(sv))", 0));
		if (r < 0)
			return fmt::format("cannot build the message: {}", strerror(-r));

		sd_bus_error error = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = nullptr;
		r = sd_bus_call(bus.get(), m, 10 * 1000 * 1000, &error, &reply);
		MessagePtr rep(reply);
		std::string err = error.message ? error.message : strerror(-r);
		sd_bus_error_free(&error);
		return r < 0 ? "StartTransientUnit failed: " + err : "";
	}

	void startConfined(const std::string &unit, const std::vector<std::string> &argv)
	{
		auto r = bed().inside([&] { return startTransient(unit, argv); });
		ASSERT_TRUE(r.ok()) << r.error().message();
		ASSERT_EQ(*r, "");
		ASSERT_TRUE(waitUntil([&] { return show(unit, "ActiveState") == "active"; }))
		    << "unit never became active: " << bed().journal(unit);
		/* Active at fork (Type=simple): until the exec, the main process is still systemd's set-up. */
		const std::string comm = fs::path(argv.front()).filename().string().substr(0, 15) + "\n";
		ASSERT_TRUE(waitUntil([&] {
			return slurp(bed().hostPath(fmt::format("/proc/{}/comm", show(unit, "MainPID")))) == comm;
		})) << "the main process never exec'd "
		    << argv.front();
	}
};

} /* namespace */

TEST_F(TestBedTest, RunsAPrivateSystemdAsPid1)
{
	auto r = bed().run({ "systemctl", "is-system-running" });
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_THAT(r->out, ::testing::AnyOf(HasSubstr("running"), HasSubstr("degraded")));
	EXPECT_EQ(slurp(fmt::format("/proc/{}/comm", bed().pid())), "systemd\n");
	for (const char *ns : { "pid", "mnt", "cgroup", "ipc", "uts", "net" })
		EXPECT_NE(nsLink(bed().pid(), ns), nsLink(0, ns)) << ns << " namespace is the host's";
	auto status = slurp(fmt::format("/proc/{}/status", bed().pid()));
	EXPECT_THAT(procStatusField(status, "NSpid"), ::testing::EndsWith("\t1"));
}

TEST_F(TestBedTest, RunAndTmpHaveTheRealSystemsModes)
{
	struct stat st;
	ASSERT_EQ(::stat(bed().hostPath("/run").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0755u);
	ASSERT_EQ(::stat(bed().hostPath("/tmp").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST_F(TestBedTest, WritesInsideDoNotReachTheHost)
{
	std::string marker = fmt::format("qemu-dm-testbed-probe-{}", ::getpid());
	auto r = bed().sh("set -e; for d in /etc /var/lib /tmp /run /var/tmp; do echo x > $d/" + marker + "; done");
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
	for (const char *d : { "/etc", "/var/lib", "/tmp", "/run", "/var/tmp" }) {
		EXPECT_TRUE(fs::exists(bed().hostPath(fs::path(d) / marker)));
		EXPECT_FALSE(fs::exists(fs::path(d) / marker)) << d << " of the host was written";
	}
}

TEST_F(TestBedTest, TheInstalledProjectIsVisibleInside)
{
	/* The build's `meson install --destdir` tree is overlaid on /usr. */
	auto r = bed().sh("test -d /usr/lib/systemd/system && ls /usr/lib/systemd/system-generators/");
	ASSERT_TRUE(r.ok() && r->ok());
	const char *build = std::getenv("QEMU_DM_BUILD_ROOT");
	ASSERT_NE(build, nullptr);
	fs::path gen = fs::path(build) / "testbed-root/usr/lib/systemd/system-generators";
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(gen, ec))
		EXPECT_THAT(r->out, HasSubstr(e.path().filename().string()));
}

TEST_F(TestBedTest, TransientUnitOverDBusRunsConfined)
{
	/* A userdb record resolves the unit's User= (a bare numeric UID would fail with 217/USER). */
	ASSERT_TRUE(bed()
			.writeFile("/run/userdb/xen-qemuuser-5.user",
				   R"({"userName":"xen-qemuuser-5","uid":131077,"gid":131077,)"
				   R"("disposition":"regular","homeDirectory":"/","shell":"/usr/sbin/nologin"})")
			.ok());
	ASSERT_TRUE(
	    bed().writeFile("/run/userdb/xen-qemuuser-5.group", R"({"groupName":"xen-qemuuser-5","gid":131077})").ok());
	auto r = bed().run({ "getent", "passwd", "xen-qemuuser-5" });
	ASSERT_TRUE(r.ok() && r->ok()) << "userdb record does not resolve";
	EXPECT_THAT(r->out, HasSubstr(":131077:131077:"));

	const std::string unit = "bedprobe@5.service";
	startConfined(unit, { "/bin/sleep", "300" });
	ASSERT_FALSE(HasFatalFailure());
	int mainPid = std::atoi(show(unit, "MainPID").c_str());
	ASSERT_GT(mainPid, 0);

	/* Everything below is read from outside the unit, through the bed's /proc. */
	fs::path proc = bed().hostPath(fmt::format("/proc/{}", mainPid));
	auto status = slurp(proc / "status");
	EXPECT_EQ(procStatusField(status, "Uid"), "131077\t131077\t131077\t131077");
	EXPECT_EQ(procStatusField(status, "Gid"), "131077\t131077\t131077\t131077");
	EXPECT_EQ(procStatusField(status, "NoNewPrivs"), "1");
	EXPECT_EQ(procStatusField(status, "Seccomp"), "2");
	EXPECT_EQ(procStatusField(status, "CapEff"), "0000000000000000");

	/* ProtectSystem=strict: / is read-only in the unit's mount namespace. */
	auto mountinfo = slurp(proc / "mountinfo");
	bool rootRo = false, devTmpfs = false, usrRw = false;
	std::istringstream is(mountinfo);
	for (std::string line; std::getline(is, line);) {
		std::istringstream ls(line);
		std::string id, parent, devno, root, mp, opts;
		ls >> id >> parent >> devno >> root >> mp >> opts;
		if (mp == "/" && opts.rfind("ro", 0) == 0)
			rootRo = true;
		if (mp == "/usr" && opts.rfind("rw", 0) == 0)
			usrRw = true;
		if (mp == "/dev" && line.find(" - tmpfs ") != std::string::npos)
			devTmpfs = true;
	}
	EXPECT_TRUE(rootRo) << mountinfo;
	EXPECT_FALSE(usrRw) << mountinfo;
	EXPECT_TRUE(devTmpfs) << "PrivateDevices= did not give a private /dev:\n" << mountinfo;
	EXPECT_NE(nsLink(0, "mnt"), fs::read_symlink(proc / "ns/mnt").string());

	/* PrivateDevices=: no /dev/mem, no block devices in the unit's /dev. */
	std::error_code ec;
	fs::path root = proc / "root";
	EXPECT_FALSE(fs::exists(root / "dev/mem", ec));
	EXPECT_TRUE(fs::exists(root / "dev/null", ec));

	/* Its cgroup is the unit's own. */
	EXPECT_THAT(slurp(proc / "cgroup"), HasSubstr("/system.slice/system-bedprobe.slice/bedprobe@5.service"));

	/* Stopping leaves no process and no unit behind. */
	auto stop = bed().run({ "systemctl", "stop", unit });
	ASSERT_TRUE(stop.ok() && stop->ok());
	EXPECT_FALSE(fs::exists(proc));
	EXPECT_THAT(show(unit, "ActiveState"), ::testing::AnyOf("inactive", ""));
}

TEST_F(TestBedTest, ConfinedUnitCannotWriteTheSystem)
{
	/* Tries it for real: a root unit under ProtectSystem=strict writes /usr and /etc. */
	auto r = bed().run({ "systemd-run", "--wait", "--pipe", "-q", "-p", "ProtectSystem=strict", "/bin/sh", "-c",
			     "touch /usr/qemu-dm-probe; echo usr=$?; touch /etc/qemu-dm-probe; echo etc=$?" });
	ASSERT_TRUE(r.ok());
	EXPECT_THAT(r->out, HasSubstr("usr=1"));
	EXPECT_THAT(r->out, HasSubstr("etc=1"));
	EXPECT_THAT(r->err, HasSubstr("Read-only file system"));
}

TEST(TestBedLifetime, CrashedOwnerLeavesNothingBehind)
{
	if (::geteuid() != 0) {
		if (ciMode())
			FAIL() << "needs root";
		GTEST_SKIP() << "needs root";
	}
	const char *build = std::getenv("QEMU_DM_BUILD_ROOT");
	ASSERT_NE(build, nullptr);
	auto root = installTree(build);
	ASSERT_TRUE(root.ok()) << root.error().message();

	/* A child boots a bed, reports its PIDs, then dies by SIGKILL (no teardown). */
	int p[2];
	ASSERT_EQ(::pipe(p), 0);
	pid_t child = ::fork();
	if (child == 0) {
		::close(p[0]);
		Options o;
		o.root = *root;
		auto bed = TestBed::boot(o);
		if (!bed.ok()) {
			fmt::print(stderr, "child: {}\n", bed.error().message());
			::_exit(1);
		}
		std::string s = fmt::format("{} {}\n", (*bed)->supervisorPid(), (*bed)->pid());
		(void)!::write(p[1], s.data(), s.size());
		::raise(SIGKILL);
	}
	::close(p[1]);
	char buf[64] = {};
	ssize_t n = ::read(p[0], buf, sizeof(buf) - 1);
	::close(p[0]);
	int st;
	::waitpid(child, &st, 0);
	ASSERT_GT(n, 0) << "child could not boot a test bed";
	pid_t supervisor = 0, init = 0;
	ASSERT_EQ(std::sscanf(buf, "%d %d", &supervisor, &init), 2);

	auto gone = [&] {
		if (::kill(supervisor, 0) == 0 || ::kill(init, 0) == 0)
			return false;
		for (const auto &l : findLeftovers())
			if (l.find(fmt::format("qemu-dm-testbed-{}", supervisor)) != std::string::npos)
				return false;
		return true;
	};
	auto deadline = std::chrono::steady_clock::now() + 20s;
	while (!gone() && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(50ms);
	EXPECT_TRUE(gone()) << "supervisor " << supervisor << " / systemd " << init << " or its cgroups survived";
}

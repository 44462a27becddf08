/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * End to end in a real (private) systemd: the never-root model's
 * device grant with a lifetime. qemu-dm-grant, run by the unit itself from the
 * generator's host drop-in, grants the DM's uid the unit's Xen nodes before
 * the start, revokes the unit's device access and removes the ACL entries
 * once QEMU answers QMP (before the start job returns), and removes whatever
 * is left on every way the unit ends.
 *
 * The bed has no Xen: it gets fake nodes in a private /dev of its own mount
 * namespace (fake_xen_dev.h): ENXIO or OPENED means "reached the device",
 * EACCES the ACL refused, EPERM the cgroup did.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "domain.h"
#include "fake_xen_dev.h"
#include "testbed_fixture.h"

using namespace qemudm;
using namespace qemudm::testbed;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::vector<std::string> kNodes = { "/dev/xen/privcmd", "/dev/xen/hypercall", "/dev/xen/evtchn",
					  "/dev/xen/xenbus", "/dev/xen/gntdev" };

class GrantTest : public TestBedSuite
{
protected:
	static void SetUpTestSuite()
	{
		TestBedSuite::SetUpTestSuite();
		if (!hasBed())
			return;
		addRangeBaseUser();
		auto r = bed().sh(kFakeXenDev);
		ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
		ASSERT_TRUE(bed()
				.writeFile("/etc/xen/qemu-dm.conf",
					   "[Device Model]\nPrivilegeModel=never-root\nQemu=" + kStandin + "\n")
				.ok());
		r = bed().sh("systemctl daemon-reload");
		ASSERT_TRUE(r.ok() && r->ok());
	}

	void TearDown() override
	{
		if (hasBed())
			(void)bed().sh("for u in $(systemctl list-units --all --plain --no-legend 'qemu-dm@*' | "
				       "awk '{print $1}'); do systemctl kill -s KILL $u; systemctl stop $u; "
				       "systemctl reset-failed $u; done 2>/dev/null; rm -f /run/grant-*; true");
	}

	std::string sh(const std::string &script)
	{
		auto r = bed().sh(script, std::chrono::seconds(90));
		EXPECT_TRUE(r.ok()) << r.error().message();
		return r.ok() ? r->out : "";
	}
	std::string show(const std::string &unit, const std::string &prop)
	{
		std::string out = sh(fmt::format("systemctl show -P {} {}", prop, unit));
		return out.substr(0, out.find('\n'));
	}

	/* "u:<uid>" of every named-user entry on `node`. */
	std::string aclUsers(const std::string &node)
	{
		return sh(fmt::format("getfacl -cpn {} | sed -n 's/^user:\\([0-9][0-9]*\\):.*/u:\\1/p' | tr '\\n' ' '",
				      node));
	}
	/* Every named-user entry on every fake node. */
	std::string allAclUsers()
	{
		std::string out;
		for (const auto &n : kNodes)
			out += aclUsers(n);
		return out;
	}
	/* The unit's DeviceAllow= entries of /dev/xen nodes (systemctl show prints one entry per line). */
	std::string xenDeviceAllow(const std::string &unit)
	{
		std::string v = sh(fmt::format("systemctl show -P DeviceAllow {} | grep /dev/xen; true", unit));
		return v.find("/dev/xen") != std::string::npos ? v : "";
	}

	std::string openAs(uid_t uid, const std::string &node, const std::string &cgroup = {})
	{
		std::string move = cgroup.empty() ? "" : intoCgroup(cgroup);
		std::string out = sh(fmt::format("sh -c '{}exec setpriv --reuid={} --regid=65534 --clear-groups "
						 "\"$0\" \"$@\"' {}{}",
						 move, uid, kOpenAs, node));
		return out.substr(0, out.find('\n'));
	}
	/* Reached the device: its driver answered (OPENED, or ENXIO for a number without a driver). */
	static bool reached(const std::string &r) { return r == "OPENED" || r == "ENXIO"; }

	/* `qemu-dmctl start DOMID --no-domain-check -- stand-in ARGS` in the background; its rc in /run. */
	void startInBackground(uint32_t domid, const std::string &standinArgs, const std::string &ctlArgs = {})
	{
		sh(fmt::format("(qemu-dmctl start {0} {3} --no-domain-check -- {1} {2} >/run/grant-start-{0}.out 2>&1 "
			       "</dev/null; echo $? >/run/grant-start-{0}.rc) >/dev/null 2>&1 &",
			       domid, kStandin, standinArgs, ctlArgs));
	}
	/* The background start's exit status once it returned, else -1 after `timeout`. */
	int startResult(uint32_t domid, std::chrono::milliseconds timeout = std::chrono::seconds(60))
	{
		std::string rc;
		waitUntil(
		    [&] {
			    rc = sh(fmt::format("cat /run/grant-start-{}.rc 2>/dev/null", domid));
			    return !rc.empty();
		    },
		    timeout);
		return rc.empty() ? -1 : std::atoi(rc.c_str());
	}
	std::string startOutput(uint32_t domid) { return sh(fmt::format("cat /run/grant-start-{}.out", domid)); }

	/* QEMU runs, qemu-dm-ready@ waits for its QMP: the grant is in place. */
	bool waitForWindow(uint32_t domid)
	{
		return waitUntil(
		    [&] {
			    return show(dmUnitName(domid), "ActiveState") == "active" &&
				   show(fmt::format("qemu-dm-ready@{}.service", domid), "ActiveState") == "activating";
		    },
		    std::chrono::seconds(20));
	}
};

} /* namespace */

TEST_F(GrantTest, GeneratorAddsTheGrantStepsAndTheUnitTheXenNodes)
{
	std::string cat = sh("cat /run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-grant.conf");
	EXPECT_THAT(cat, HasSubstr("BindsTo=qemu-dm-grant@%i.service qemu-dm-ready@%i.service"));
	EXPECT_THAT(cat, HasSubstr("After=qemu-dm-grant@%i.service"));
	EXPECT_THAT(sh("systemctl cat qemu-dm-grant@5.service"), HasSubstr("qemu-dm-grant grant %i"));
	EXPECT_THAT(sh("systemctl cat qemu-dm-ready@5.service"), HasSubstr("qemu-dm-grant ready %i"));
	/* The host drop-in names no Xen node: they are the unit's own (see host_policy.cpp). */
	EXPECT_THAT(sh("cat /run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-hardening.conf"),
		    Not(HasSubstr("DeviceAllow=/dev/xen")));
	std::string plan = sh(fmt::format("qemu-dmctl policy 5 --type pv --no-domain-check -- {}", kStandin));
	for (const auto &n : kNodes)
		EXPECT_THAT(plan, HasSubstr("DeviceAllow=" + n + " rw")) << plan;
	EXPECT_THAT(plan, HasSubstr("--ready-qmp"));
}

TEST_F(GrantTest, GrantLivesWhileActivatingAndIsGoneWhenStartReturns)
{
	const uid_t uid = 131077;
	const std::string unit = dmUnitName(5);
	startInBackground(5, "-qmp-delay 3000");
	ASSERT_TRUE(waitForWindow(5)) << startOutput(5) << bed().journal(unit);

	/* The window: the uid has rw on every node, by ACL and by the unit's DeviceAllow=. */
	for (const auto &n : { "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall", "/dev/xen/xenbus" })
		EXPECT_EQ(aclUsers(n), "u:131077 ") << n;
	EXPECT_EQ(aclUsers("/dev/xen/gntdev"), "") << "an HVM DM does not get gntdev";
	EXPECT_THAT(xenDeviceAllow(unit), HasSubstr("/dev/xen/privcmd rw"));
	const std::string cg = show(unit, "ControlGroup");
	ASSERT_FALSE(cg.empty());
	EXPECT_TRUE(reached(openAs(uid, "/dev/xen/privcmd", cg)));
	EXPECT_TRUE(reached(openAs(uid, "/dev/xen/evtchn", cg)));
	EXPECT_TRUE(reached(openAs(uid, "/dev/xen/evtchn")));
	EXPECT_EQ(openAs(uid, "/dev/xen/gntdev"), "EACCES");
	/* Another uid has nothing. */
	EXPECT_EQ(openAs(131078, "/dev/xen/privcmd"), "EACCES");

	/* A process of the DM that opened privcmd in the window, in the unit's cgroup; it waits for /run/grant-go. */
	sh(fmt::format(
	    "(sh -c '{}exec setpriv --reuid={} --regid=65534 "
	    "--clear-groups /usr/bin/python3 -c \"$0\"' '"
	    "import os, fcntl, errno, time, array\n"
	    "fd = os.open(\"/dev/xen/privcmd\", os.O_RDWR); print(\"HELD\", flush=True)\n"
	    "while not os.path.exists(\"/run/grant-go\"): time.sleep(0.05)\n"
	    "buf = array.array(\"I\", [0]); fcntl.ioctl(fd, 0x800454cf, buf); print(\"IOCTL-OK\", flush=True)\n"
	    "try:\n    os.open(\"/dev/xen/privcmd\", os.O_RDWR); print(\"REOPEN-OPENED\")\n"
	    "except OSError as e:\n    print(\"REOPEN-\" + errno.errorcode[e.errno])\n"
	    "' >/run/grant-holder.out 2>&1 </dev/null &) >/dev/null 2>&1",
	    intoCgroup(cg), uid));
	EXPECT_TRUE(waitUntil([&] { return sh("cat /run/grant-holder.out").find("HELD") != std::string::npos; }))
	    << sh("cat /run/grant-holder.out");

	/* The start returns only once the access is revoked. */
	ASSERT_EQ(startResult(5), 0) << startOutput(5) << bed().journal(unit);
	EXPECT_EQ(show(unit, "ActiveState"), "active");
	EXPECT_EQ(allAclUsers(), "");
	EXPECT_EQ(xenDeviceAllow(unit), "");
	EXPECT_THAT(bed().journal("qemu-dm-ready@5.service"), HasSubstr("Xen device access revoked"));

	/*
	 * After: the uid opens nothing, in the unit's cgroup or outside it (EACCES:
	 * the ACL is checked first). The unit's device program is gone too: even
	 * root, in the unit's cgroup, gets EPERM, while root outside reaches them.
	 */
	for (const auto &n : { "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall", "/dev/xen/xenbus" }) {
		EXPECT_EQ(openAs(uid, n, cg), "EACCES") << n;
		EXPECT_EQ(openAs(uid, n), "EACCES") << n;
		EXPECT_EQ(openAs(0, n, cg), "EPERM") << n;
		EXPECT_TRUE(reached(openAs(0, n))) << n;
	}
	/* ... while the fd opened before keeps working. */
	sh("touch /run/grant-go");
	EXPECT_TRUE(waitUntil([&] { return sh("cat /run/grant-holder.out").find("REOPEN-") != std::string::npos; }));
	std::string holder = sh("cat /run/grant-holder.out");
	EXPECT_THAT(holder, HasSubstr("IOCTL-OK"));
	EXPECT_THAT(holder, HasSubstr("REOPEN-EACCES"));

	/* daemon-reload reads the transient unit and every drop-in again: the reset stays last. */
	sh("systemctl daemon-reload");
	EXPECT_EQ(xenDeviceAllow(unit), "");
	EXPECT_EQ(openAs(0, "/dev/xen/evtchn", cg), "EPERM");
	EXPECT_EQ(allAclUsers(), "");

	auto stop = bed().run({ "qemu-dmctl", "stop", "5" });
	ASSERT_TRUE(stop.ok() && stop->ok()) << (stop.ok() ? stop->err : "");
	EXPECT_EQ(allAclUsers(), "");
}

TEST_F(GrantTest, PvGetsGntdevToo)
{
	startInBackground(6, "-qmp-delay 2000", "--type pv");
	ASSERT_TRUE(waitForWindow(6)) << startOutput(6);
	EXPECT_EQ(aclUsers("/dev/xen/gntdev"), "u:131078 ");
	ASSERT_EQ(startResult(6), 0) << startOutput(6);
	EXPECT_EQ(allAclUsers(), "");
}

TEST_F(GrantTest, NothingLeftWhenTheDmDiesDuringTheStart)
{
	startInBackground(7, "-behave exit-before-qmp");
	EXPECT_NE(startResult(7), 0);
	EXPECT_EQ(allAclUsers(), "") << bed().journal(dmUnitName(7));
	EXPECT_THAT(show(dmUnitName(7), "ActiveState"), ::testing::AnyOf("inactive", "failed", ""));
}

TEST_F(GrantTest, NothingLeftWhenTheDmIsKilledStoppedOrDestroyedInTheWindow)
{
	struct Case {
		uint32_t domid;
		std::string how;
	};
	for (const Case &c : { Case{ 8, "systemctl kill -s KILL --kill-who=main qemu-dm@8" },
			       Case{ 9, "qemu-dmctl stop 9" }, Case{ 10, "qemu-dmctl stop 10 --kill" } }) {
		SCOPED_TRACE(c.how);
		startInBackground(c.domid, "-qmp-delay 20000");
		ASSERT_TRUE(waitForWindow(c.domid)) << startOutput(c.domid);
		ASSERT_EQ(aclUsers("/dev/xen/privcmd"), fmt::format("u:{} ", 131072 + c.domid));
		sh(c.how);
		EXPECT_NE(startResult(c.domid), 0) << startOutput(c.domid);
		EXPECT_TRUE(waitUntil([&] { return allAclUsers().empty(); })) << allAclUsers();
	}
}

TEST_F(GrantTest, AStoppedDomainStartsAgainAtOnce)
{
	/* A stop returns once the grant unit has revoked: the same domid starts again at once, no "already running". */
	const std::string unit = dmUnitName(17);
	for (const char *how : { "stop", "stop --kill", "stop", "stop --kill" }) {
		SCOPED_TRACE(how);
		auto start = bed().run({ "qemu-dmctl", "start", "17", "--no-domain-check", "--", kStandin });
		ASSERT_TRUE(start.ok() && start->ok())
		    << (start.ok() ? start->err : start.error().message()) << bed().journal(unit);
		EXPECT_EQ(show(unit, "ActiveState"), "active");
		sh(fmt::format("qemu-dmctl {} 17", how));
		EXPECT_EQ(show("qemu-dm-grant@17.service", "ActiveState"), "inactive");
		EXPECT_EQ(allAclUsers(), "");
	}
}

TEST_F(GrantTest, ConcurrentStartsLoseNoGrantAndLeaveNone)
{
	/* Six DMs read-modify-write the same ACLs at once: each sees its own grant, none is left after. */
	std::vector<uint32_t> domids = { 11, 12, 13, 14, 15, 16 };
	for (uint32_t d : domids)
		startInBackground(d, "-qmp-delay 4000");
	for (uint32_t d : domids)
		ASSERT_TRUE(waitForWindow(d)) << d << startOutput(d);
	std::string users = aclUsers("/dev/xen/privcmd");
	for (uint32_t d : domids)
		EXPECT_THAT(users, HasSubstr(fmt::format("u:{} ", 131072 + d))) << users;
	for (uint32_t d : domids)
		EXPECT_EQ(startResult(d), 0) << d << startOutput(d);
	EXPECT_EQ(allAclUsers(), "");
	for (uint32_t d : domids)
		EXPECT_EQ(xenDeviceAllow(dmUnitName(d)), "") << d;
}

TEST_F(GrantTest, RevokeIsIdempotentAndRefusesBadInput)
{
	auto r = bed().run({ "/usr/libexec/qemu-dm/qemu-dm-grant", "revoke", "0" });
	ASSERT_TRUE(r.ok());
	EXPECT_NE(r->exitStatus, 0);
	EXPECT_THAT(r->err, HasSubstr("domain"));
	/* A unit that qemu-dm did not make has no QEMU_DM_UID=: nothing is granted. */
	r = bed().run({ "/usr/libexec/qemu-dm/qemu-dm-grant", "grant", "4242" });
	ASSERT_TRUE(r.ok());
	EXPECT_NE(r->exitStatus, 0);
	EXPECT_THAT(r->err, HasSubstr("QEMU_DM_UID"));
	EXPECT_EQ(allAclUsers(), "");
}

TEST_F(GrantTest, AuditFailsAStaleGrantAndPassesTheWindow)
{
	/* In the window the grant is expected: INFO, not a failure. */
	startInBackground(20, "-qmp-delay 4000");
	ASSERT_TRUE(waitForWindow(20)) << startOutput(20);
	auto a = bed().run({ "qemu-dmctl", "audit", "grants" });
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(a->exitStatus, 0) << a->out << a->err;
	EXPECT_THAT(a->out, HasSubstr("uid 131092 in its start window"));
	ASSERT_EQ(startResult(20), 0) << startOutput(20);

	a = bed().run({ "qemu-dmctl", "audit", "grants" });
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(a->exitStatus, 0) << a->out << a->err;
	EXPECT_THAT(a->out, HasSubstr("PASS  grants"));
	auto unit = bed().run({ "qemu-dmctl", "audit", "20" });
	ASSERT_TRUE(unit.ok());
	EXPECT_THAT(unit->out, HasSubstr("PASS  readiness"));
	EXPECT_THAT(unit->out, HasSubstr("PASS  device access"));
	EXPECT_THAT(unit->out, HasSubstr("PASS  grants"));

	/* Negative control: an entry no DM in its start window explains. */
	ASSERT_TRUE(bed().sh("setfacl -m u:131099:rw /dev/xen/evtchn")->ok());
	a = bed().run({ "qemu-dmctl", "audit", "grants" });
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(a->exitStatus, 1) << a->out;
	EXPECT_THAT(a->out, HasSubstr("FAIL  grant /dev/xen/evtchn"));
	EXPECT_THAT(a->out, HasSubstr("stale ACL entry for uid 131099"));
	unit = bed().run({ "qemu-dmctl", "audit", "20" });
	ASSERT_TRUE(unit.ok());
	EXPECT_EQ(unit->exitStatus, 1);
	EXPECT_THAT(unit->out, HasSubstr("FAIL  grant /dev/xen/evtchn"));
	ASSERT_TRUE(bed().sh("setfacl -x u:131099 /dev/xen/evtchn")->ok());
	EXPECT_EQ(allAclUsers(), "");
}

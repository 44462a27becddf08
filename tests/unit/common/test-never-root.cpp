/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The privilege models (Config::privilegeModel): what the host
 * drop-in, the uid policy and the per-domain plan say for never-root, and
 * that the root model keeps what it had.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "dm_unit.h"
#include "host_policy.h"
#include "test_util.h"

using namespace qemudm;
using ::testing::HasSubstr;

namespace {

using qemudm::test::valuesOf;

Config neverRoot()
{
	Config c;
	c.privilegeModel = PrivilegeModel::NeverRoot;
	return c;
}

Config rootModel()
{
	Config c;
	c.privilegeModel = PrivilegeModel::Root;
	return c;
}

class Users final : public UserLookup
{
public:
	bool base = true;
	Result<std::optional<PasswdEntry>> byName(const std::string &name) override
	{
		if (name == "xen-qemuuser-range-base" && base)
			return std::optional<PasswdEntry>(PasswdEntry{ name, 131072, 995 });
		if (name == "xen-qemuuser-shared")
			return std::optional<PasswdEntry>(PasswdEntry{ name, 64000, 64000 });
		if (name == "dmuser")
			return std::optional<PasswdEntry>(PasswdEntry{ name, 70000, 70001 });
		return std::optional<PasswdEntry>();
	}
	Result<std::optional<PasswdEntry>> byUid(uid_t) override { return std::optional<PasswdEntry>(); }
	Result<bool> uidHasProcesses(uid_t) override { return false; }
	Result<std::vector<uid_t>> runningDmUids() override { return std::vector<uid_t>{}; }
	Result<uid_t> systemUidMax() override { return 999; }
};

DmRequest request(GuestType type = GuestType::Hvm)
{
	DmRequest r;
	r.domid = 5;
	r.type = type;
	r.domainCheck = false;
	r.qemuArgv = { "/bin/true", "-xen-domid", "5" };
	return r;
}

std::vector<std::string> planValues(const DmUnitPlan &plan, std::string_view name)
{
	std::vector<std::string> v;
	for (const auto &p : plan.properties)
		if (p.name == name)
			v.push_back(formatBusProperty(p));
	return v;
}

bool has(const std::vector<std::string> &v, std::string_view s)
{
	return std::find(v.begin(), v.end(), s) != v.end();
}

} /* namespace */

TEST(NeverRootHostPolicy, NoCapabilitiesAndNoCredentialSyscalls)
{
	auto p = buildHostPolicy(neverRoot());
	EXPECT_EQ(valuesOf(p, "CapabilityBoundingSet"), std::vector<std::string>{ "" });
	EXPECT_EQ(valuesOf(p, "AmbientCapabilities"), std::vector<std::string>{ "" });
	EXPECT_EQ(valuesOf(p, "NoNewPrivileges"), std::vector<std::string>{ "yes" });
	EXPECT_EQ(valuesOf(p, "RemoveIPC"), std::vector<std::string>{ "yes" });
	EXPECT_EQ(valuesOf(p, "PrivateUsers"), std::vector<std::string>{ "yes" });
	/* No @setuid @chown chroot re-allow: ~@privileged removes every set*id call; seccomp stays. */
	EXPECT_EQ(valuesOf(p, "SystemCallFilter"),
		  (std::vector<std::string>{ "@system-service",
					     "~@privileged @resources @mount @debug @module @reboot @swap @raw-io "
					     "@cpu-emulation @obsolete @clock @keyring @memlock",
					     "seccomp" }));
	for (const auto &x : p) {
		EXPECT_EQ(x.value.find("setuid"), std::string::npos) << x.name << "=" << x.value;
		EXPECT_EQ(x.value.find("chroot"), std::string::npos) << x.name << "=" << x.value;
		EXPECT_EQ(x.value.find("CAP_"), std::string::npos) << x.name << "=" << x.value;
		/* xenstored's socket is root's: never-root uses /dev/xen/xenbus. */
		EXPECT_EQ(x.value.find("xenstored"), std::string::npos) << x.name << "=" << x.value;
	}
}

TEST(NeverRootHostPolicy, TheDefaultIsNeverRoot)
{
	EXPECT_EQ(buildHostPolicy(Config()), buildHostPolicy(neverRoot()));
	EXPECT_EQ(buildGrantPolicy(Config()), buildGrantPolicy(neverRoot()));
	EXPECT_FALSE(buildGrantPolicy(Config()).empty());
	EXPECT_TRUE(buildGrantPolicy(rootModel()).empty());
}

TEST(NeverRootHostPolicy, NoXenNodesInTheHostDropIn)
{
	/* Per domain instead: the grant's runtime reset of DeviceAllow= must outlive daemon-reload. */
	auto p = buildHostPolicy(neverRoot());
	for (const auto &x : p)
		EXPECT_EQ(x.value.find("/dev/xen/"), std::string::npos) << x.name << "=" << x.value;
	auto root = buildHostPolicy(rootModel());
	EXPECT_TRUE(has(valuesOf(root, "DeviceAllow"), "/dev/xen/privcmd rw"));
}

TEST(NeverRootHostPolicy, DeviceListsPerModelAndGuestType)
{
	using V = std::vector<std::string_view>;
	const V root{ "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall" };
	EXPECT_EQ(xenDeviceNodes(PrivilegeModel::Root, GuestType::Hvm), root);
	EXPECT_EQ(xenDeviceNodes(PrivilegeModel::Root, GuestType::Pv), root);
	EXPECT_EQ(xenDeviceNodes(PrivilegeModel::NeverRoot, GuestType::Hvm),
		  (V{ "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall", "/dev/xen/xenbus" }));
	for (auto type : { GuestType::Pv, GuestType::Pvh })
		EXPECT_EQ(xenDeviceNodes(PrivilegeModel::NeverRoot, type),
			  (V{ "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall", "/dev/xen/xenbus",
			      "/dev/xen/gntdev" }));
}

TEST(NeverRootHostPolicy, TheRootModelKeepsItsCapabilitiesAndSocket)
{
	auto p = buildHostPolicy(rootModel());
	EXPECT_EQ(valuesOf(p, "CapabilityBoundingSet"),
		  std::vector<std::string>{ "CAP_SETUID CAP_SETGID CAP_SYS_CHROOT" });
	EXPECT_TRUE(valuesOf(p, "AmbientCapabilities").empty());
	EXPECT_TRUE(valuesOf(p, "RemoveIPC").empty());
	EXPECT_TRUE(valuesOf(p, "PrivateUsers").empty());
	EXPECT_TRUE(has(valuesOf(p, "BindReadOnlyPaths"), "-/run/xenstored -/run/xenstored:/var/run/xenstored"));
	EXPECT_FALSE(has(valuesOf(p, "DeviceAllow"), "/dev/xen/xenbus rw"));
	EXPECT_EQ(valuesOf(p, "SystemCallFilter").back(), "chroot setuid setgroups seccomp");
}

TEST(NeverRootUidPolicy, TheRangeUserGetsItsOwnGroup)
{
	Users users;
	DmUserRequest r;
	r.domid = 5;
	auto root = resolveDmIdentity(rootModel(), r, users);
	ASSERT_TRUE(root.ok()) << root.error().message();
	EXPECT_EQ(root->gid, 995u);
	EXPECT_EQ(root->runas, "131077:995");
	auto nr = resolveDmIdentity(neverRoot(), r, users);
	ASSERT_TRUE(nr.ok()) << nr.error().message();
	EXPECT_EQ(nr->uid, 131077u);
	EXPECT_EQ(nr->gid, 131077u);
	EXPECT_EQ(nr->runas, "131077:131077");
}

TEST(NeverRootPlan, RunsAsTheDomainsUserFromExec)
{
	Users users;
	auto plan = planDmUnit(neverRoot(), request(), users);
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_EQ(planValues(*plan, "User"), std::vector<std::string>{ "User=xen-qemuuser-5" });
	EXPECT_EQ(planValues(*plan, "Group"), std::vector<std::string>{ "Group=xen-qemuuser-5" });
	auto &e = plan->execStart;
	auto at = std::find(e.begin(), e.end(), "--never-root");
	ASSERT_NE(at, e.end());
	auto runas = std::find(e.begin(), e.end(), "--runas");
	ASSERT_NE(runas, e.end());
	EXPECT_EQ(*(runas + 1), "131077:131077");
	EXPECT_LT(at, std::find(e.begin(), e.end(), "--"));
	/* HVM: its four nodes, per domain. */
	EXPECT_EQ(planValues(*plan, "DeviceAllow"),
		  (std::vector<std::string>{ "DeviceAllow=/dev/xen/privcmd rw", "DeviceAllow=/dev/xen/evtchn rw",
					     "DeviceAllow=/dev/xen/hypercall rw", "DeviceAllow=/dev/xen/xenbus rw" }));
}

TEST(NeverRootPlan, PvAddsGntdev)
{
	Users users;
	auto plan = planDmUnit(neverRoot(), request(GuestType::Pv), users);
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_TRUE(has(planValues(*plan, "DeviceAllow"), "DeviceAllow=/dev/xen/gntdev rw"));
	EXPECT_TRUE(has(planValues(*plan, "BindPaths"), "BindPaths=-/dev/xen/gntdev"));
	EXPECT_EQ(planValues(*plan, "DeviceAllow").size(), 5u);
	/* Root model: no gntdev, no User=, the upstream gid. */
	auto root = planDmUnit(rootModel(), request(GuestType::Pv), users);
	ASSERT_TRUE(root.ok()) << root.error().message();
	EXPECT_TRUE(planValues(*root, "DeviceAllow").empty());
	EXPECT_TRUE(planValues(*root, "User").empty());
	EXPECT_TRUE(planValues(*root, "Group").empty());
	EXPECT_EQ(std::find(root->execStart.begin(), root->execStart.end(), "--never-root"), root->execStart.end());
	EXPECT_NE(std::find(root->execStart.begin(), root->execStart.end(), "131077:995"), root->execStart.end());
}

TEST(NeverRootPlan, DeviceModelUserRunsAsItselfWithItsPrimaryGroup)
{
	Users users;
	auto r = request();
	r.deviceModelUser = "dmuser";
	auto plan = planDmUnit(neverRoot(), r, users);
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_EQ(planValues(*plan, "User"), std::vector<std::string>{ "User=dmuser" });
	EXPECT_TRUE(planValues(*plan, "Group").empty());
	EXPECT_NE(std::find(plan->execStart.begin(), plan->execStart.end(), "70000:70001"), plan->execStart.end());
}

TEST(NeverRootPlan, RefusesWhatItCannotServe)
{
	Users users;
	auto r = request();
	r.taps = { "vif5.0-emu" };
	auto plan = planDmUnit(neverRoot(), r, users);
	ASSERT_FALSE(plan.ok());
	EXPECT_THAT(plan.error().message(), HasSubstr("domain 5: emulated NICs (vif5.0-emu)"));
	EXPECT_THAT(plan.error().message(), HasSubstr("PrivilegeModel=root"));
	/* The shared user would give every DM the grant of one. */
	users.base = false;
	plan = planDmUnit(neverRoot(), request(), users);
	ASSERT_FALSE(plan.ok());
	EXPECT_THAT(plan.error().message(), HasSubstr("domain 5: refusing the shared user xen-qemuuser-shared"));
	/* The root model still serves both. */
	EXPECT_TRUE(planDmUnit(rootModel(), request(), users).ok());
}

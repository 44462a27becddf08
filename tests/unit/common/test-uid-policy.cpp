/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "domain.h"
#include "uid_policy.h"
#include "fake_user_lookup.h"

using namespace qemudm;
using testing::Return;

namespace {

class MockLookup : public UserLookup
{
public:
	MOCK_METHOD(Result<std::optional<PasswdEntry>>, byName, (const std::string &), (override));
	MOCK_METHOD(Result<std::optional<PasswdEntry>>, byUid, (uid_t), (override));
	MOCK_METHOD(Result<bool>, uidHasProcesses, (uid_t), (override));
	MOCK_METHOD(Result<std::vector<uid_t>>, runningDmUids, (), (override));
	MOCK_METHOD(Result<uid_t>, systemUidMax, (), (override));
};

const PasswdEntry kBase{ "xen-qemuuser-range-base", 131072, 997 };
const PasswdEntry kShared{ "xen-qemuuser-shared", 990, 990 };
const PasswdEntry kAlice{ "alice", 2000, 2000 };

struct Case {
	const char *name;
	/* set up */
	std::function<void(test::FakeUserLookup &, Config &)> setup;
	DmUserRequest request;
	/* expected: an error (code + message) or an identity */
	int errnum;
	std::string message;
	DmIdentity identity;
};

class UidPolicy : public testing::TestWithParam<Case>
{
};

TEST_P(UidPolicy, Resolves)
{
	const Case &c = GetParam();
	test::FakeUserLookup lookup;
	Config config;
	/* Upstream's identities (the range base user's gid); never-root's own group: test-never-root.cpp. */
	config.privilegeModel = PrivilegeModel::Root;
	lookup.users = { kBase, kShared, kAlice };
	if (c.setup)
		c.setup(lookup, config);

	auto r = resolveDmIdentity(config, c.request, lookup);
	if (c.errnum) {
		ASSERT_FALSE(r.ok()) << "expected an error, got runas '" << r->runas << "'";
		EXPECT_EQ(r.error().code(), c.errnum);
		EXPECT_EQ(r.error().message(), c.message);
		return;
	}
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->uid, c.identity.uid);
	EXPECT_EQ(r->gid, c.identity.gid);
	EXPECT_EQ(r->runas, c.identity.runas);
	EXPECT_EQ(r->killByUid, c.identity.killByUid);
	EXPECT_EQ(r->warnings, c.identity.warnings);
	EXPECT_EQ(r->runsAsRoot(), c.identity.runas.empty());
}

DmUserRequest req(uint32_t domid, std::string user = {}, std::optional<bool> restrict = true)
{
	return DmUserRequest{ domid, std::move(user), restrict };
}

DmIdentity ident(uid_t uid, gid_t gid, std::string runas, bool kill, std::vector<std::string> warnings = {})
{
	return DmIdentity{ uid, gid, std::move(runas), kill, std::move(warnings) };
}

void removeUser(test::FakeUserLookup &l, const std::string &name)
{
	std::erase_if(l.users, [&](const PasswdEntry &u) { return u.name == name; });
}

void setBase(test::FakeUserLookup &l, uid_t uid, gid_t gid)
{
	removeUser(l, "xen-qemuuser-range-base");
	l.users.push_back({ "xen-qemuuser-range-base", uid, gid });
}

const std::string kFallback = "Could not find user xen-qemuuser-range-base, falling back to shared user "
			      "xen-qemuuser-shared: all device models share one uid";

INSTANTIATE_TEST_SUITE_P(
    All, UidPolicy,
    testing::Values(
	/* ---- domid ---- */
	Case{ "DomidAboveReserved", {}, req(32752), EINVAL, "Domain id 32752 is out of range, expected 0..32751" },
	Case{ "DomidAboveReservedEvenWithUser",
	      {},
	      req(70000, "alice"),
	      EINVAL,
	      "Domain id 70000 is out of range, expected 0..32751" },

	/* ---- device_model_user ---- */
	Case{ "UserByName", {}, req(5, "alice"), 0, "", ident(2000, 2000, "alice", true) },
	Case{ "UserEvenWithoutRestrict", {}, req(5, "alice", false), 0, "", ident(2000, 2000, "alice", true) },
	Case{ "UserForDomid0", {}, req(0, "alice"), 0, "", ident(2000, 2000, "alice", true) },
	Case{ "UserLookupFails", [](test::FakeUserLookup &l, Config &) { l.failName = { "alice" }; }, req(5, "alice"),
	      EIO, "Failed to look up device_model_user alice: I/O error" },
	Case{ "UserMissing", {}, req(5, "bob"), ENOENT, "Could not find device_model_user bob" },
	Case{ "UserIsRoot",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "toor", 0, 5 });
	      },
	      req(5, "toor"), EINVAL,
	      "device_model_user toor is uid 0 (root), refusing to run the device model as root" },
	Case{ "UserHasGroupRoot",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "carol", 3000, 0 });
	      },
	      req(5, "carol"), EINVAL,
	      "device_model_user carol has primary group gid 0 (root), refusing to run the device model with gid 0" },
	Case{ "UserAlreadyRunning",
	      [](test::FakeUserLookup &l, Config &) {
		      l.dmUids = { 0, 131073, 2000 };
	      },
	      req(5, "alice"), EBUSY,
	      "device_model_user alice (uid 2000) is already used by a running device model, every domain needs "
	      "a user of its own" },
	Case{ "UserRunningListFails", [](test::FakeUserLookup &l, Config &) { l.failRunning = true; }, req(5, "alice"),
	      EIO, "Failed to list the users of running device models: I/O error" },
	Case{ "UserOtherDmsRunning",
	      [](test::FakeUserLookup &l, Config &) {
		      l.dmUids = { 0, 131073 };
	      },
	      req(5, "alice"), 0, "", ident(2000, 2000, "alice", true) },

	/* ---- device_model_user is one DM's own user ---- */
	Case{ "UserNobody",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "nobody", 65534, 65534 });
	      },
	      req(5, "nobody"), EPERM,
	      "Refusing device_model_user nobody (uid 65534): it is the shared unprivileged user nobody; "
	      "a device model needs a user of its own" },
	Case{ "UserWithTheOverflowUid",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "nfsnobody", 65534, 3000 });
	      },
	      req(5, "nfsnobody"), EPERM,
	      "Refusing device_model_user nfsnobody (uid 65534): uid 65534 is nobody; a device model "
	      "needs a user of its own" },
	Case{ "UserWith32BitNobody",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "n32", 4294967294u, 3000 });
	      },
	      req(5, "n32"), EPERM,
	      "Refusing device_model_user n32 (uid 4294967294): uid 4294967294 is reserved; a device "
	      "model needs a user of its own" },
	Case{ "UserDaemon",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "daemon", 1, 1 });
	      },
	      req(7, "daemon"), EPERM,
	      "Refusing device_model_user daemon (uid 1): it is a system user (uid <= SYS_UID_MAX 999 of "
	      "/etc/login.defs), shared with the service it belongs to; a device model needs a user of its own" },
	Case{ "UserAtTheSystemLimit",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "svc", 999, 3000 });
	      },
	      req(5, "svc"), EPERM,
	      "Refusing device_model_user svc (uid 999): it is a system user (uid <= SYS_UID_MAX 999 of "
	      "/etc/login.defs), shared with the service it belongs to; a device model needs a user of its own" },
	Case{ "UserJustAboveTheSystemLimit",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "dm", 1000, 3000 });
	      },
	      req(5, "dm"), 0, "", ident(1000, 3000, "dm", true) },
	Case{ "UserBelowAConfiguredSystemLimit", [](test::FakeUserLookup &l, Config &) { l.sysUidMax = 4999; },
	      req(5, "alice"), EPERM,
	      "Refusing device_model_user alice (uid 2000): it is a system user (uid <= SYS_UID_MAX 4999 "
	      "of /etc/login.defs), shared with the service it belongs to; a device model needs a user of its own" },
	Case{ "UserSystemLimitUnreadable", [](test::FakeUserLookup &l, Config &) { l.failSystemUidMax = true; },
	      req(5, "alice"), EACCES,
	      "Failed to read the system uid limit: Failed to open /etc/login.defs: Permission denied" },
	Case{ "UserIsTheSharedUser",
	      [](test::FakeUserLookup &l, Config &c) {
		      c.sharedUser = "dmshared";
		      l.users.push_back({ "dmshared", 5000, 5000 });
	      },
	      req(5, "dmshared"), EPERM,
	      "Refusing device_model_user dmshared (uid 5000): it is SharedUser=, the user every device "
	      "model shares; a device model needs a user of its own" },
	Case{ "UserForbiddenByName",
	      [](test::FakeUserLookup &, Config &c) {
		      c.forbiddenUsers = { "bob", "alice" };
	      },
	      req(5, "alice"), EPERM,
	      "Refusing device_model_user alice (uid 2000): it is listed in ForbiddenUsers=; a device "
	      "model needs a user of its own" },
	Case{ "UserForbiddenByUid",
	      [](test::FakeUserLookup &l, Config &c) {
		      c.forbiddenUsers = { "mallory" };
		      l.users.push_back({ "mallory", 2000, 2000 });
	      },
	      req(5, "alice"), EPERM,
	      "Refusing device_model_user alice (uid 2000): its uid is that of mallory, listed in "
	      "ForbiddenUsers=; a device model needs a user of its own" },
	Case{ "UserForbiddenButMissingIsNoError",
	      [](test::FakeUserLookup &, Config &c) { c.forbiddenUsers = { "ghost" }; }, req(5, "alice"), 0, "",
	      ident(2000, 2000, "alice", true) },
	Case{ "UserInAnotherDomainsSlot",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "dm6", 131078, 997 });
	      },
	      req(5, "dm6"), EPERM,
	      "Refusing device_model_user dm6 (uid 131078): uid 131078 is the slot of domain 6 in the "
	      "range of xen-qemuuser-range-base (131072 + 6); a device model needs a user of its own" },
	Case{ "UserInTheLastSlotOfTheRange",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "dmlast", 131072 + 32751, 997 });
	      },
	      req(5, "dmlast"), EPERM,
	      "Refusing device_model_user dmlast (uid 163823): uid 163823 is the slot of domain 32751 in "
	      "the range of xen-qemuuser-range-base (131072 + 32751); a device model needs a user of its own" },
	Case{ "UserInItsOwnSlot",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "dm5", 131077, 997 });
	      },
	      req(5, "dm5"), 0, "", ident(131077, 997, "dm5", true) },
	Case{ "UserJustPastTheRange",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "dmpast", 131072 + 32752, 997 });
	      },
	      req(5, "dmpast"), 0, "", ident(163824, 997, "dmpast", true) },
	Case{ "UserIsTheRangeBase",
	      {},
	      req(5, "xen-qemuuser-range-base"),
	      EPERM,
	      "Refusing device_model_user xen-qemuuser-range-base (uid 131072): it is the range base user "
	      "xen-qemuuser-range-base (the slot of domain 0); a device model needs a user of its own" },
	Case{ "UserIsTheRangeBaseEvenForDomid0",
	      {},
	      req(0, "xen-qemuuser-range-base"),
	      EPERM,
	      "Refusing device_model_user xen-qemuuser-range-base (uid 131072): it is the range base user "
	      "xen-qemuuser-range-base (the slot of domain 0); a device model needs a user of its own" },
	Case{ "UserSlotCheckFollowsTheConfiguredBase",
	      [](test::FakeUserLookup &l, Config &c) {
		      c.rangeBaseUser = "qemu-base";
		      l.users.push_back({ "qemu-base", 262144, 50 });
		      l.users.push_back({ "dm9", 262153, 50 });
	      },
	      req(5, "dm9"), EPERM,
	      "Refusing device_model_user dm9 (uid 262153): uid 262153 is the slot of domain 9 in the "
	      "range of qemu-base (262144 + 9); a device model needs a user of its own" },
	Case{ "UserRangeBaseLookupFails",
	      [](test::FakeUserLookup &l, Config &) { l.failName = { "xen-qemuuser-range-base" }; }, req(5, "alice"),
	      EIO, "Failed to look up range base user xen-qemuuser-range-base: I/O error" },

	/* ---- no restriction: root, as upstream ---- */
	Case{ "RestrictOffRunsAsRoot", {}, req(5, {}, false), 0, "", ident(0, 0, "", false) },
	Case{ "RestrictDefaultOff", [](test::FakeUserLookup &, Config &c) { c.restrictByDefault = false; },
	      req(5, {}, std::nullopt), 0, "", ident(0, 0, "", false) },
	Case{ "RestrictDefaultOnIsUsed", {}, req(5, {}, std::nullopt), 0, "", ident(131077, 997, "131077:997", true) },
	Case{ "RestrictOnOverridesDefaultOff", [](test::FakeUserLookup &, Config &c) { c.restrictByDefault = false; },
	      req(5, {}, true), 0, "", ident(131077, 997, "131077:997", true) },

	/* ---- the uid range ---- */
	Case{ "Range", {}, req(5), 0, "", ident(131077, 997, "131077:997", true) },
	Case{ "RangeFirstDomid", {}, req(1), 0, "", ident(131073, 997, "131073:997", true) },
	Case{ "RangeLastDomid", {}, req(32751), 0, "", ident(163823, 997, "163823:997", true) },
	Case{ "RangeCustomBaseName",
	      [](test::FakeUserLookup &l, Config &c) {
		      c.rangeBaseUser = "qemu-base";
		      l.users.push_back({ "qemu-base", 262144, 50 });
	      },
	      req(3), 0, "", ident(262147, 50, "262147:50", true) },
	Case{ "RangeBaseLookupFails",
	      [](test::FakeUserLookup &l, Config &) { l.failName = { "xen-qemuuser-range-base" }; }, req(5), EIO,
	      "Failed to look up range base user xen-qemuuser-range-base: I/O error" },
	Case{ "RangeDomid0",
	      {},
	      req(0),
	      EINVAL,
	      "Domain id 0 has no uid in the range of xen-qemuuser-range-base, expected a domid between 1 and 32751" },
	Case{ "RangeBaseIsRoot", [](test::FakeUserLookup &l, Config &) { setBase(l, 0, 997); }, req(5), EINVAL,
	      "Range base user xen-qemuuser-range-base is uid 0 (root), refusing: the range would cover system users" },
	Case{ "RangeGroupIsRoot", [](test::FakeUserLookup &l, Config &) { setBase(l, 131072, 0); }, req(5), EINVAL,
	      "Range base user xen-qemuuser-range-base has primary group gid 0 (root), refusing to run device "
	      "models with gid 0" },
	Case{ "RangeOverflows", [](test::FakeUserLookup &l, Config &) { setBase(l, 4294934543u, 997); }, req(5), ERANGE,
	      "Range base user xen-qemuuser-range-base has uid 4294934543: the range 4294934543..4294967294 "
	      "overflows the uid space (the last usable uid is 4294967293)" },
	Case{ "RangeAtTheTop", [](test::FakeUserLookup &l, Config &) { setBase(l, 4294934542u, 997); }, req(32751), 0,
	      "",
	      ident(4294967293u, 997, "4294967293:997", true,
		    { "Range base user xen-qemuuser-range-base has uid 4294934542, which is not a multiple of "
		      "65536; container tools may read the upper 16 bits of a uid as a container id" }) },
	Case{ "RangeCoversNobody", [](test::FakeUserLookup &l, Config &) { setBase(l, 40000, 997); }, req(5), ERANGE,
	      "Range base user xen-qemuuser-range-base has uid 40000: the range 40000..72751 contains the special "
	      "uid 65534 (nobody)" },
	Case{ "RangeCovers16BitInvalid", [](test::FakeUserLookup &l, Config &) { setBase(l, 65535, 997); }, req(5),
	      ERANGE,
	      "Range base user xen-qemuuser-range-base has uid 65535: the range 65535..98286 contains the special "
	      "uid 65535 (the 16-bit invalid uid)" },
	Case{ "RangeJustBelowNobody", [](test::FakeUserLookup &l, Config &) { setBase(l, 32782, 997); }, req(1), 0, "",
	      ident(32783, 997, "32783:997", true,
		    { "Range base user xen-qemuuser-range-base has uid 32782, which is not a multiple of 65536; "
		      "container tools may read the upper 16 bits of a uid as a container id" }) },
	Case{ "RangeNotAligned", [](test::FakeUserLookup &l, Config &) { setBase(l, 100000, 997); }, req(5), 0, "",
	      ident(100005, 997, "100005:997", true,
		    { "Range base user xen-qemuuser-range-base has uid 100000, which is not a multiple of 65536; "
		      "container tools may read the upper 16 bits of a uid as a container id" }) },
	Case{ "RangeUidTakenByNamedUser",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "mallory", 131077, 5 });
	      },
	      req(5), EEXIST, "Wanted to use uid 131077 (xen-qemuuser-range-base + 5) but that is user mallory" },
	Case{ "RangeUidIsOurOwnUserdbRecord",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "xen-qemuuser-5", 131077, 997 });
	      },
	      req(5), 0, "", ident(131077, 997, "131077:997", true) },
	Case{ "RangeUidIsAnotherDomainsRecordName",
	      [](test::FakeUserLookup &l, Config &) {
		      l.users.push_back({ "xen-qemuuser-6", 131077, 997 });
	      },
	      req(5), EEXIST,
	      "Wanted to use uid 131077 (xen-qemuuser-range-base + 5) but that is user xen-qemuuser-6" },
	Case{ "RangeUidLookupFails", [](test::FakeUserLookup &l, Config &) { l.failUid = true; }, req(5), EIO,
	      "Failed to look up uid 131077: I/O error" },
	Case{ "RangeUidStillOwnsProcesses", [](test::FakeUserLookup &l, Config &) { l.uidsWithProcesses = { 131077 }; },
	      req(5), EBUSY,
	      "uid 131077 for domain 5 still owns processes (a device model of an earlier domain 5 may still be "
	      "running)" },
	Case{ "RangeOtherUidsOwnProcesses",
	      [](test::FakeUserLookup &l, Config &) {
		      l.uidsWithProcesses = { 131076, 131078 };
	      },
	      req(5), 0, "", ident(131077, 997, "131077:997", true) },
	Case{ "RangeProcessCheckFails", [](test::FakeUserLookup &l, Config &) { l.failProcesses = true; }, req(5), EIO,
	      "Failed to check the processes of uid 131077: I/O error" },

	/* ---- the shared user ---- */
	Case{ "SharedFallback", [](test::FakeUserLookup &l, Config &) { removeUser(l, "xen-qemuuser-range-base"); },
	      req(5), 0, "", ident(990, 990, "xen-qemuuser-shared", false, { kFallback }) },
	Case{ "SharedLookupFails",
	      [](test::FakeUserLookup &l, Config &) {
		      removeUser(l, "xen-qemuuser-range-base");
		      l.failName = { "xen-qemuuser-shared" };
	      },
	      req(5), EIO, "Failed to look up shared user xen-qemuuser-shared: I/O error" },
	Case{ "SharedIsRoot",
	      [](test::FakeUserLookup &l, Config &) {
		      removeUser(l, "xen-qemuuser-range-base");
		      removeUser(l, "xen-qemuuser-shared");
		      l.users.push_back({ "xen-qemuuser-shared", 0, 990 });
	      },
	      req(5), EINVAL,
	      "Shared user xen-qemuuser-shared is uid 0 (root), refusing to run the device model as root" },
	Case{ "SharedGroupIsRoot",
	      [](test::FakeUserLookup &l, Config &) {
		      removeUser(l, "xen-qemuuser-range-base");
		      removeUser(l, "xen-qemuuser-shared");
		      l.users.push_back({ "xen-qemuuser-shared", 990, 0 });
	      },
	      req(5), EINVAL,
	      "Shared user xen-qemuuser-shared has primary group gid 0 (root), refusing to run the device model "
	      "with gid 0" },
	Case{ "SharedDomid0", [](test::FakeUserLookup &l, Config &) { removeUser(l, "xen-qemuuser-range-base"); },
	      req(0), 0, "", ident(990, 990, "xen-qemuuser-shared", false, { kFallback }) },
	Case{ "NeitherUserRefuses",
	      [](test::FakeUserLookup &l, Config &) {
		      removeUser(l, "xen-qemuuser-range-base");
		      removeUser(l, "xen-qemuuser-shared");
	      },
	      req(5), ENOENT,
	      "Could not find user xen-qemuuser-shared or range base user xen-qemuuser-range-base, cannot restrict "
	      "the device model of domain 5" },
	Case{ "NeitherCustomNames",
	      [](test::FakeUserLookup &, Config &c) {
		      c.rangeBaseUser = "b";
		      c.sharedUser = "s";
	      },
	      req(5), ENOENT,
	      "Could not find user s or range base user b, cannot restrict the device model of domain 5" }),
    [](const testing::TestParamInfo<Case> &p) { return std::string(p.param.name); });

TEST(UidPolicyOrder, RestrictOffLooksNothingUp)
{
	testing::StrictMock<MockLookup> lookup;
	auto r = resolveDmIdentity(Config(), req(5, {}, false), lookup);
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(r->runsAsRoot());
}

/* device_model_user: the range base is looked up for its slots, but no range uid is taken or checked. */
TEST(UidPolicyOrder, DeviceModelUserTakesNoRangeUid)
{
	testing::StrictMock<MockLookup> lookup;
	EXPECT_CALL(lookup, byName("alice")).WillOnce(Return(std::optional<PasswdEntry>(kAlice)));
	EXPECT_CALL(lookup, systemUidMax()).WillOnce(Return(uid_t(999)));
	EXPECT_CALL(lookup, byName("xen-qemuuser-shared")).WillOnce(Return(std::optional<PasswdEntry>(kShared)));
	EXPECT_CALL(lookup, byName("xen-qemuuser-range-base")).WillOnce(Return(std::optional<PasswdEntry>(kBase)));
	EXPECT_CALL(lookup, runningDmUids()).WillOnce(Return(std::vector<uid_t>{}));
	auto r = resolveDmIdentity(Config(), req(5, "alice"), lookup);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r->runas, "alice");
}

TEST(UidPolicyOrder, RangeChecksClashBeforeProcesses)
{
	testing::StrictMock<MockLookup> lookup;
	testing::InSequence seq;
	EXPECT_CALL(lookup, byName("xen-qemuuser-range-base")).WillOnce(Return(std::optional<PasswdEntry>(kBase)));
	EXPECT_CALL(lookup, byUid(131077)).WillOnce(Return(std::optional<PasswdEntry>()));
	EXPECT_CALL(lookup, uidHasProcesses(131077)).WillOnce(Return(false));
	auto r = resolveDmIdentity(Config(), req(5), lookup);
	ASSERT_TRUE(r.ok());
}

TEST(UidPolicyOrder, SharedFallbackDoesNotCheckProcesses)
{
	testing::StrictMock<MockLookup> lookup;
	testing::InSequence seq;
	EXPECT_CALL(lookup, byName("xen-qemuuser-range-base")).WillOnce(Return(std::optional<PasswdEntry>()));
	EXPECT_CALL(lookup, byName("xen-qemuuser-shared")).WillOnce(Return(std::optional<PasswdEntry>(kShared)));
	auto r = resolveDmIdentity(Config(), req(5), lookup);
	ASSERT_TRUE(r.ok());
	EXPECT_FALSE(r->killByUid);
}

/* The system uid limit as useradd --system computes it (login.defs(5)). */
TEST(UidPolicy, SystemUidMaxFromLoginDefs)
{
	EXPECT_EQ(parseLoginDefsSystemUidMax(""), 999u);
	EXPECT_EQ(parseLoginDefsSystemUidMax("UID_MIN\t\t\t 1000\n#SYS_UID_MAX\t\t  999\n"), 999u);
	EXPECT_EQ(parseLoginDefsSystemUidMax("UID_MIN 2000\n"), 1999u);
	EXPECT_EQ(parseLoginDefsSystemUidMax("UID_MIN 2000\nSYS_UID_MAX 499\n"), 499u);
	EXPECT_EQ(parseLoginDefsSystemUidMax("SYS_UID_MAX 4999 # comment\n"), 4999u);
	/* Malformed values are ignored, as shadow does. */
	EXPECT_EQ(parseLoginDefsSystemUidMax("SYS_UID_MAX lots\nSYS_UID_MAX -1\nSYS_UID_MAX\n"), 999u);
	EXPECT_EQ(parseLoginDefsSystemUidMax("SYS_UID_MAX 99999999999\n"), 999u);
}

TEST(UidPolicy, PerDomainUserName)
{
	EXPECT_EQ(perDomainUserName(5), "xen-qemuuser-5");
	EXPECT_EQ(perDomainUserName(32751), "xen-qemuuser-32751");
}

TEST(UidPolicy, UnitNamesOfADomainRoundTrip)
{
	EXPECT_EQ(domidFromUnitName(dmUnitName(5)), 5u);
	EXPECT_EQ(domidFromGrantUnitName(grantUnitName(32751)), 32751u);
	EXPECT_EQ(domidFromGrantUnitName(dmUnitName(5)), std::nullopt);
	EXPECT_EQ(domidFromUnitName(grantUnitName(5)), std::nullopt);
	EXPECT_EQ(domidFromGrantUnitName(readyUnitName(5)), std::nullopt);
	EXPECT_EQ(domidFromGrantUnitName("qemu-dm-grant@05.service"), std::nullopt);
	EXPECT_EQ(domidFromGrantUnitName("qemu-dm-grant@.service"), std::nullopt);
}

} /* namespace */

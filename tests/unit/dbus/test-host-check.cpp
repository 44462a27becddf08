/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "dev_grant.h"
#include "host_check.h"
#include "fake_user_lookup.h"
#include "test_util.h"

using namespace qemudm;
using testing::HasSubstr;

namespace {

/* The checks must not depend on what runs: every uid is "busy" and a device model runs, to prove it. */
struct FakeUsers : test::FakeUserLookup {
	FakeUsers()
	{
		everyUidHasProcesses = true;
		dmUids = { 131073 };
		failure = "NSS is broken";
	}
};

QemuCaps debian12XenQemu()
{
	QemuCaps caps;
	caps.version = { 7, 2, 22 };
	for (const char *o : { "xen-domid-restrict", "runas", "chroot", "sandbox", "machine", "accel" })
		caps.help.options[o] = true;
	caps.accelerators = { "xen" };
	caps.sandbox = false;
	return caps;
}

QemuCaps tcgQemu()
{
	QemuCaps caps = debian12XenQemu();
	caps.accelerators = { "tcg", "kvm" };
	return caps;
}

QemuCaps qemu91()
{
	QemuCaps caps;
	caps.version = { 9, 1, 0 };
	for (const char *o : { "xen-domid-restrict", "run-with", "sandbox" })
		caps.help.options[o] = true;
	caps.help.runWithChroot = true;
	caps.help.runWithUser = true;
	caps.accelerators = { "tcg", "xen" };
	caps.sandbox = true;
	return caps;
}

const CheckResult *find(const std::vector<CheckResult> &rs, const std::string &name)
{
	for (const auto &r : rs)
		if (r.name == name)
			return &r;
	return nullptr;
}

class HostCheck : public testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_.path();
		for (const char *d : { "etc", "dev/xen", "proc", "sys/hypervisor", "sys/fs/cgroup", "bin", "run" })
			std::filesystem::create_directories(root_ / d);

		users_ = std::make_shared<FakeUsers>();
		env_.nsswitchConf = root_ / "etc/nsswitch.conf";
		env_.devRoot = root_ / "dev";
		env_.procRoot = root_ / "proc";
		env_.cgroupRoot = root_ / "sys/fs/cgroup";
		env_.hypervisorDir = root_ / "sys/hypervisor";
		env_.transientUnitDir = root_ / "run/systemd/transient";
		env_.userdbSocket = root_ / "run/systemd/userdb/org.xenproject.QemuDm";
		env_.users = users_;
		env_.probeQemu = [this](const std::string &qemu) -> Result<QemuCaps> {
			probed_.push_back(qemu);
			if (probeError_)
				return makeError(EIO, "QEMU said nothing");
			return caps_;
		};
		env_.systemdVersion = [this]() -> Result<std::string> {
			if (systemdVersion_.empty())
				return makeError(ECONNREFUSED, "Failed to connect to systemd: Connection refused");
			return systemdVersion_;
		};
		env_.filesystemType = [this](const std::filesystem::path &p) -> Result<int64_t> {
			auto it = fsTypes_.find(p);
			if (it == fsTypes_.end())
				return makeError(ENOENT, "Failed to statfs {}: No such file or directory", p.string());
			return it->second;
		};
		env_.findXenstored = [this]() -> Result<std::optional<std::string>> {
			if (xenstoredError_)
				return makeError(EACCES, "Failed to list /proc: Permission denied");
			return xenstored_;
		};

		config_.defaultQemu = (root_ / "bin/qemu").string();
		write("bin/qemu", "#!/bin/sh\n");
		::chmod((root_ / "bin/qemu").c_str(), 0755);
	}

	void write(const std::string &rel, const std::string &text)
	{
		std::filesystem::create_directories((root_ / rel).parent_path());
		std::ofstream(root_ / rel) << text;
	}
	/* A real character device at root_/rel: a symlink to /dev/null (stat follows it). */
	void charDevice(const std::string &rel)
	{
		std::filesystem::create_directories((root_ / rel).parent_path());
		std::filesystem::create_symlink("/dev/null", root_ / rel);
	}
	/* Everything a ready dom0 has. */
	void perfectHost()
	{
		write("sys/hypervisor/type", "xen\n");
		write("proc/xen/capabilities", "control_d\n");
		for (const char *n : { "privcmd", "evtchn", "hypercall" })
			charDevice(std::string("dev/xen/") + n);
		xenstored_ = "process 812 (oxenstored)";
		systemdVersion_ = "252.39-1~deb12u2";
		fsTypes_[env_.cgroupRoot] = CGROUP2_SUPER_MAGIC;
		write("etc/nsswitch.conf", "passwd:         files systemd\ngroup:          files systemd\n");
		users_->add("xen-qemuuser-range-base", 131072, 131072);
		/* No DM runs, so uid 131073 is free; qemu-dm-userdb's socket is there. */
		write("run/systemd/userdb/org.xenproject.QemuDm", "");
		caps_ = debian12XenQemu();
		caps_.sandbox = true;
	}

	qemudm::test::TempDir tmp_{ "test-host-check" };
	std::filesystem::path root_;
	std::shared_ptr<FakeUsers> users_;
	HostCheckEnv env_;
	Config config_;
	QemuCaps caps_ = debian12XenQemu();
	bool probeError_ = false;
	std::vector<std::string> probed_;
	std::string systemdVersion_;
	std::map<std::filesystem::path, int64_t> fsTypes_;
	std::optional<std::string> xenstored_;
	bool xenstoredError_ = false;
};

} /* namespace */

/* ---- Xen ---- */

TEST_F(HostCheck, HypervisorMissingSaysNotUnderXen)
{
	auto r = checkHypervisor(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.name, "Xen hypervisor");
	EXPECT_THAT(r.detail, HasSubstr("Not running under Xen"));
	EXPECT_THAT(r.detail, HasSubstr("sys/hypervisor/type does not exist"));
	EXPECT_THAT(r.hint, HasSubstr("Xen dom0"));
}

TEST_F(HostCheck, HypervisorOtherThanXen)
{
	write("sys/hypervisor/type", "kvm\n");
	auto r = checkHypervisor(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "Not running under Xen: the hypervisor is \"kvm\"");
}

TEST_F(HostCheck, HypervisorXen)
{
	write("sys/hypervisor/type", "xen\n");
	auto r = checkHypervisor(env_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "Running under Xen");
	EXPECT_TRUE(r.hint.empty());

	write("proc/xen/capabilities", "control_d\n");
	EXPECT_EQ(checkHypervisor(env_).level, CheckLevel::Pass);
}

TEST_F(HostCheck, HypervisorXenGuestIsNotDom0)
{
	write("sys/hypervisor/type", "xen\n");
	write("proc/xen/capabilities", "");
	auto r = checkHypervisor(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Xen guest (domU), not in dom0"));
}

TEST_F(HostCheck, XenDeviceMissing)
{
	auto r = checkXenDevice(config_, env_, "privcmd");
	EXPECT_EQ(r.name, "/dev/xen/privcmd");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Missing"));
	EXPECT_THAT(r.hint, HasSubstr("modprobe xen-privcmd"));

	r = checkXenDevice(config_, env_, "evtchn");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.hint, HasSubstr("modprobe xen-evtchn"));
}

TEST_F(HostCheck, XenDeviceNotACharDevice)
{
	write("dev/xen/evtchn", "");
	auto r = checkXenDevice(config_, env_, "evtchn");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("is not a character device"));
}

TEST_F(HostCheck, XenDevicePresent)
{
	charDevice("dev/xen/privcmd");
	auto r = checkXenDevice(config_, env_, "privcmd");
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "Character device present");
}

TEST_F(HostCheck, HypercallMissingFailsWithMemlockZero)
{
	ASSERT_EQ(config_.limitMemlock, Limit(0));
	auto r = checkXenDevice(config_, env_, "hypercall");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("locked memory"));
	EXPECT_THAT(r.detail, HasSubstr("LimitMEMLOCK=0 forbids"));
}

TEST_F(HostCheck, HypercallMissingWarnsWhenMemlockAllowed)
{
	config_.limitMemlock = 65536;
	auto r = checkXenDevice(config_, env_, "hypercall");
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("LimitMEMLOCK=65536 allows"));

	config_.limitMemlock = std::nullopt;
	r = checkXenDevice(config_, env_, "hypercall");
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("LimitMEMLOCK=infinity allows"));

	charDevice("dev/xen/hypercall");
	EXPECT_EQ(checkXenDevice(config_, env_, "hypercall").level, CheckLevel::Pass);
}

TEST_F(HostCheck, Xenstored)
{
	auto r = checkXenstored(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "Not running: no xenstored or oxenstored process, no socket /run/xenstored/socket");
	EXPECT_THAT(r.hint, HasSubstr("xenstored"));

	xenstored_ = "process 812 (oxenstored)";
	r = checkXenstored(env_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "Running (process 812 (oxenstored))");

	xenstoredError_ = true;
	r = checkXenstored(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Failed to look for xenstored: Failed to list /proc"));

	env_.findXenstored = nullptr;
	EXPECT_EQ(checkXenstored(env_).level, CheckLevel::Fail);
}

TEST_F(HostCheck, FindXenstoredByProcessName)
{
	write("proc/1/comm", "systemd\n");
	write("proc/77/comm", "xenstored-not\n");
	std::filesystem::create_directories(root_ / "proc/self");
	std::filesystem::create_directories(root_ / "proc/90"); /* exited: no comm */
	auto none = findXenstored(root_ / "proc", root_ / "run/xenstored/socket");
	ASSERT_TRUE(none.ok());
	EXPECT_EQ(*none, std::nullopt);

	write("proc/812/comm", "oxenstored\n");
	auto found = findXenstored(root_ / "proc", root_ / "run/xenstored/socket");
	ASSERT_TRUE(found.ok());
	EXPECT_EQ(*found, std::optional<std::string>("process 812 (oxenstored)"));

	std::filesystem::remove_all(root_ / "proc/812");
	write("proc/813/comm", "xenstored\n");
	EXPECT_EQ(*findXenstored(root_ / "proc", root_ / "nothing"),
		  std::optional<std::string>("process 813 (xenstored)"));
}

TEST_F(HostCheck, FindXenstoredBySocket)
{
	auto path = root_ / "run/xenstored/socket";
	write("run/xenstored/socket", ""); /* a regular file is no socket */
	EXPECT_EQ(*findXenstored(root_ / "proc", path), std::nullopt);

	std::filesystem::remove(path);
	int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(fd, 0);
	struct sockaddr_un sa = {};
	sa.sun_family = AF_UNIX;
	ASSERT_LT(path.string().size(), sizeof(sa.sun_path));
	std::strcpy(sa.sun_path, path.c_str());
	ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)), 0);
	auto r = findXenstored(root_ / "proc", path);
	::close(fd);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(*r, std::optional<std::string>("socket " + path.string()));
}

TEST_F(HostCheck, FindXenstoredWithoutProcIsAnError)
{
	auto r = findXenstored(root_ / "no-proc", root_ / "nothing");
	ASSERT_FALSE(r.ok());
	EXPECT_THAT(r.error().message(), HasSubstr("Failed to list"));
}

/* ---- systemd ---- */

TEST(ParseSystemdVersion, LeadingNumber)
{
	EXPECT_EQ(parseSystemdVersion("252.39-1~deb12u2"), 252u);
	EXPECT_EQ(parseSystemdVersion("252"), 252u);
	EXPECT_EQ(parseSystemdVersion(" v255-rc1\n"), 255u);
	EXPECT_EQ(parseSystemdVersion("systemd 252"), std::nullopt);
	EXPECT_EQ(parseSystemdVersion(""), std::nullopt);
	EXPECT_EQ(parseSystemdVersion("99999999999999999999"), std::nullopt);
}

TEST_F(HostCheck, SystemdVersionLevels)
{
	systemdVersion_ = "252.39-1~deb12u2";
	auto r = checkSystemdVersion(env_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "systemd 252.39-1~deb12u2");

	systemdVersion_ = "256";
	EXPECT_EQ(checkSystemdVersion(env_).level, CheckLevel::Pass);

	systemdVersion_ = "250";
	r = checkSystemdVersion(env_);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("verified on 252"));

	systemdVersion_ = "248";
	EXPECT_EQ(checkSystemdVersion(env_).level, CheckLevel::Warn);

	systemdVersion_ = "247";
	r = checkSystemdVersion(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "systemd 247 lacks what device model confinement relies on: PrivateIPC= (248)");

	systemdVersion_ = "241";
	r = checkSystemdVersion(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("ProtectHostname= (242)"));
	EXPECT_THAT(r.detail, HasSubstr("userdb"));
	EXPECT_THAT(r.detail, HasSubstr("ProtectProc= and ProcSubset= (247)"));
	EXPECT_THAT(r.hint, HasSubstr("Upgrade systemd"));
}

TEST_F(HostCheck, SystemdVersionUnknown)
{
	auto r = checkSystemdVersion(env_); /* no connection */
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "Failed to connect to systemd: Connection refused");
	EXPECT_THAT(r.hint, HasSubstr("PID 1"));

	systemdVersion_ = "unknown";
	r = checkSystemdVersion(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "Cannot parse systemd's version \"unknown\"");
}

TEST_F(HostCheck, CgroupHierarchy)
{
	fsTypes_[env_.cgroupRoot] = CGROUP2_SUPER_MAGIC;
	auto r = checkCgroupHierarchy(env_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_THAT(r.detail, HasSubstr("Unified (cgroup v2)"));

	fsTypes_[env_.cgroupRoot] = TMPFS_MAGIC;
	fsTypes_[env_.cgroupRoot / "unified"] = CGROUP2_SUPER_MAGIC;
	r = checkCgroupHierarchy(env_);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("Hybrid"));
	EXPECT_THAT(r.detail, HasSubstr("TasksMax= and MemoryMax="));
	EXPECT_THAT(r.hint, HasSubstr("systemd.unified_cgroup_hierarchy=1"));

	fsTypes_.erase(env_.cgroupRoot / "unified");
	r = checkCgroupHierarchy(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Legacy (cgroup v1 only)"));

	fsTypes_[env_.cgroupRoot] = 0xEF53; /* ext4 */
	r = checkCgroupHierarchy(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("neither cgroup2 nor tmpfs (filesystem type 0xef53)"));

	fsTypes_.clear();
	r = checkCgroupHierarchy(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Failed to statfs"));
}

TEST_F(HostCheck, DeviceGrantOnlyForNeverRoot)
{
	fsTypes_[env_.cgroupRoot] = CGROUP2_SUPER_MAGIC;
	config_.privilegeModel = PrivilegeModel::Root;
	EXPECT_TRUE(checkDeviceGrant(config_, env_).empty());
	config_.privilegeModel = PrivilegeModel::NeverRoot;
	auto acl = supportsPosixAcl(env_.devRoot.string());
	ASSERT_TRUE(acl) << acl.error().message();
	auto r = checkDeviceGrant(config_, env_);
	ASSERT_EQ(r.size(), 2u);
	EXPECT_EQ(r[0].name, "POSIX ACLs on /dev");
	EXPECT_EQ(r[0].level, *acl ? CheckLevel::Pass : CheckLevel::Fail) << r[0].detail;
	EXPECT_EQ(r[1].name, "Device control");
	EXPECT_EQ(r[1].level, CheckLevel::Pass);
	EXPECT_THAT(r[1].detail, HasSubstr("BPF"));

	fsTypes_[env_.cgroupRoot] = TMPFS_MAGIC;
	fsTypes_[env_.cgroupRoot / "devices"] = 0x27e0eb; /* CGROUP_SUPER_MAGIC (v1) */
	r = checkDeviceGrant(config_, env_);
	EXPECT_EQ(r[1].level, CheckLevel::Warn);
	EXPECT_THAT(r[1].detail, HasSubstr("cgroup v1 devices controller"));

	fsTypes_.erase(env_.cgroupRoot / "devices");
	r = checkDeviceGrant(config_, env_);
	EXPECT_EQ(r[1].level, CheckLevel::Fail);
}

/* ---- NSS and users ---- */

TEST(NsswitchServices, Parses)
{
	const char *text = "# comment: passwd: nothing\n"
			   "passwd:  files systemd # trailing\n"
			   "group:files [NOTFOUND=return] systemd\n"
			   "shadow: files\n"
			   "hosts: files [ !UNAVAIL=return ] dns\n";
	EXPECT_EQ(nsswitchServices(text, "passwd"), (std::vector<std::string>{ "files", "systemd" }));
	EXPECT_EQ(nsswitchServices(text, "group"),
		  (std::vector<std::string>{ "files", "[NOTFOUND=return]", "systemd" }));
	EXPECT_EQ(nsswitchServices(text, "hosts"), (std::vector<std::string>{ "files", "[ !UNAVAIL=return ]", "dns" }));
	EXPECT_TRUE(nsswitchServices(text, "gshadow").empty());
	EXPECT_TRUE(nsswitchServices("", "passwd").empty());
}

TEST_F(HostCheck, NsswitchDebianDefaultPasses)
{
	write("etc/nsswitch.conf", "passwd:         files systemd\ngroup:          files systemd\n"
				   "shadow:         files\nhosts: files dns\n");
	auto r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_THAT(r.detail, HasSubstr("lists systemd for passwd and group"));
}

TEST_F(HostCheck, NsswitchWithoutSystemdFails)
{
	write("etc/nsswitch.conf", "passwd: files systemd\ngroup: files\n");
	auto r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("the group line does not list systemd"));
	EXPECT_THAT(r.detail, testing::Not(HasSubstr("passwd line")));
	EXPECT_THAT(r.detail, HasSubstr("217/USER"));
	EXPECT_THAT(r.hint, HasSubstr("libnss-systemd"));

	write("etc/nsswitch.conf", "#passwd: files systemd\ngroup: files systemd\n");
	r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("the passwd line does not list systemd"));

	write("etc/nsswitch.conf", "passwd: files systemd-homed\ngroup: compat\n");
	r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("passwd line does not list systemd, the group line does not list systemd"));
}

TEST_F(HostCheck, NsswitchReturnBeforeSystemdFails)
{
	write("etc/nsswitch.conf", "passwd: files [NOTFOUND=return] systemd\ngroup: files systemd\n");
	auto r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("the passwd line returns on NOTFOUND before systemd"));

	/* After systemd, or negated, it is harmless. */
	write("etc/nsswitch.conf", "passwd: files systemd [NOTFOUND=return]\n"
				   "group: files [!NOTFOUND=return] systemd\n");
	EXPECT_EQ(checkNsswitch(env_).level, CheckLevel::Pass);
}

TEST_F(HostCheck, NsswitchMissingFails)
{
	auto r = checkNsswitch(env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("does not exist"));
}

TEST_F(HostCheck, RangeBaseUserMissing)
{
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.name, "Range base user");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "User xen-qemuuser-range-base does not exist: device models cannot get a uid of their own");
	EXPECT_THAT(r.hint, HasSubstr("useradd"));
	EXPECT_THAT(r.hint, HasSubstr("RangeBaseUser="));
}

TEST_F(HostCheck, RangeBaseUserGood)
{
	users_->add("xen-qemuuser-range-base", 131072, 131072);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "xen-qemuuser-range-base is uid 131072 (gid 131072): device models run as uids "
			    "131073..163823");
	EXPECT_TRUE(r.hint.empty());
}

TEST_F(HostCheck, RangeBaseUserNotMultipleWarns)
{
	users_->add("xen-qemuuser-range-base", 100000, 100000);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("not a multiple of 65536"));
	EXPECT_THAT(r.hint, HasSubstr("Renumber"));
}

TEST_F(HostCheck, RangeBaseUserRootFails)
{
	users_->add("xen-qemuuser-range-base", 0, 131072);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("is uid 0 (root)"));
}

TEST_F(HostCheck, RangeBaseUserGidZeroFails)
{
	users_->add("xen-qemuuser-range-base", 131072, 0);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("gid 0"));
}

TEST_F(HostCheck, RangeBaseUserOverflowFails)
{
	users_->add("xen-qemuuser-range-base", 4294960000u, 131072);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("overflows the uid space"));
	EXPECT_THAT(r.hint, HasSubstr("32752 uids"));
}

TEST_F(HostCheck, RangeBaseUserCoveringNobodyFails)
{
	users_->add("xen-qemuuser-range-base", 60000, 60000);
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("special uid 65534 (nobody)"));
}

TEST_F(HostCheck, RangeBaseUserLookupErrorFails)
{
	users_->failNss();
	auto r = checkRangeBaseUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "Failed to look up xen-qemuuser-range-base: NSS is broken");
}

TEST_F(HostCheck, UserDatabase)
{
	std::filesystem::create_directories(env_.transientUnitDir);
	users_->add("xen-qemuuser-range-base", 131072, 131072);

	/* No DM unit, no socket. */
	auto r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.name, "User database");
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("org.xenproject.QemuDm does not exist"));
	EXPECT_THAT(r.hint, HasSubstr("systemctl enable --now qemu-dm-userdb.socket"));

	/* The socket: uid base+1 is free while domain 1 has no DM (libxl's clash check passes). */
	std::filesystem::create_directories(env_.userdbSocket.parent_path());
	std::ofstream(env_.userdbSocket.string()) << "";
	r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.level, CheckLevel::Pass) << r.detail;
	EXPECT_THAT(r.detail, HasSubstr("uid 131073 is free while domain 1 has no device model"));

	/* Resolving without a unit breaks stock libxl. */
	users_->add("xen-qemuuser-1", 131073, 131072);
	r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("stock libxl refuses"));

	/* With domain 1's unit loaded it must resolve. */
	std::ofstream((env_.transientUnitDir / "qemu-dm@1.service").string()) << "[Service]\n";
	r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.level, CheckLevel::Pass) << r.detail;
	EXPECT_EQ(r.detail, "uid 131073 resolves to xen-qemuuser-1 (qemu-dm@1.service is loaded)");
	FakeUsers noName;
	noName.add("xen-qemuuser-range-base", 131072, 131072);
	r = checkUserDatabase(config_, noName, env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("does not resolve although qemu-dm@1.service is loaded"));
}

TEST_F(HostCheck, UserDatabaseClash)
{
	users_->add("xen-qemuuser-range-base", 131072, 131072);
	users_->add("alice", 131073, 131073);
	auto r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_EQ(r.detail, "uid 131073 (xen-qemuuser-range-base + 1) is user alice, not xen-qemuuser-1: the range "
			    "overlaps an existing user");
}

TEST_F(HostCheck, UserDatabaseWithoutBase)
{
	auto r = checkUserDatabase(config_, *users_, env_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("Cannot check"));
}

TEST_F(HostCheck, SharedUser)
{
	users_->add("xen-qemuuser-range-base", 131072, 131072);
	auto r = checkSharedUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_THAT(r.detail, HasSubstr("does not exist (not needed"));

	users_->add("xen-qemuuser-shared", 999, 999);
	r = checkSharedUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Pass);
	EXPECT_EQ(r.detail, "xen-qemuuser-shared exists (uid 999); unused while xen-qemuuser-range-base exists");
}

TEST_F(HostCheck, SharedUserWarnings)
{
	auto r = checkSharedUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("restricted device models cannot start"));

	users_->add("xen-qemuuser-shared", 999, 999);
	r = checkSharedUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Fail);
	EXPECT_THAT(r.detail, HasSubstr("PrivilegeModel=never-root refuses it"));
	EXPECT_THAT(r.hint, HasSubstr("PrivilegeModel=root"));
	config_.privilegeModel = PrivilegeModel::Root;
	r = checkSharedUser(config_, *users_);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("every device model shares one uid"));

	FakeUsers rootShared;
	rootShared.add("xen-qemuuser-shared", 0, 0);
	r = checkSharedUser(config_, rootShared);
	EXPECT_EQ(r.level, CheckLevel::Warn);
	EXPECT_THAT(r.detail, HasSubstr("refuses"));

	users_->failNss();
	EXPECT_EQ(checkSharedUser(config_, *users_).level, CheckLevel::Warn);
}

/* ---- QEMU ---- */

TEST_F(HostCheck, QemuDebian12)
{
	auto rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 5u);
	EXPECT_EQ(rs[3].name, "QEMU privilege drop");
	EXPECT_EQ(rs[3].level, CheckLevel::Pass);
	EXPECT_THAT(rs[3].detail, HasSubstr("Not needed under PrivilegeModel=never-root"));
	config_.privilegeModel = PrivilegeModel::Root;
	probed_.clear();
	rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 5u);
	EXPECT_EQ(probed_, std::vector<std::string>{ config_.defaultQemu });
	EXPECT_EQ(rs[0].name, "QEMU binary");
	EXPECT_EQ(rs[0].level, CheckLevel::Pass);
	EXPECT_EQ(rs[0].detail, config_.defaultQemu + ": QEMU 7.2.22");
	EXPECT_EQ(rs[1].name, "QEMU Xen accelerator");
	EXPECT_EQ(rs[1].level, CheckLevel::Pass);
	EXPECT_EQ(rs[1].detail, "accelerators: xen");
	EXPECT_EQ(rs[2].name, "QEMU -xen-domid-restrict");
	EXPECT_EQ(rs[2].level, CheckLevel::Pass);
	EXPECT_EQ(rs[3].name, "QEMU privilege drop");
	EXPECT_EQ(rs[3].level, CheckLevel::Pass);
	EXPECT_EQ(rs[3].detail, "-runas and -chroot");
	EXPECT_EQ(rs[4].name, "QEMU -sandbox");
	EXPECT_EQ(rs[4].level, CheckLevel::Warn);
	EXPECT_EQ(rs[4].detail, "Not built with seccomp: systemd's SystemCallFilter= is the only seccomp layer");
	EXPECT_THAT(rs[4].hint, HasSubstr("Informational"));
}

TEST_F(HostCheck, QemuRunWith)
{
	config_.privilegeModel = PrivilegeModel::Root; /* the drop QEMU does itself */
	caps_ = qemu91();
	auto rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 5u);
	for (const auto &r : rs)
		EXPECT_EQ(r.level, CheckLevel::Pass) << r.name << ": " << r.detail;
	EXPECT_EQ(rs[3].detail, "-run-with user= and -run-with chroot=");
	EXPECT_EQ(rs[4].detail, "Built with seccomp; systemd's SystemCallFilter= is a second layer");

	/* QEMU 9.0: -run-with has chroot= but not yet user=; -runas is still there. */
	caps_.help.runWithUser = false;
	caps_.help.options["runas"] = true;
	rs = checkQemu(config_, env_);
	EXPECT_EQ(rs[3].level, CheckLevel::Pass);
	EXPECT_EQ(rs[3].detail, "-runas and -run-with chroot=");
}

TEST_F(HostCheck, QemuWithoutPrivilegeDrop)
{
	config_.privilegeModel = PrivilegeModel::Root; /* the drop QEMU does itself */
	caps_.help.options.erase("runas");
	caps_.help.options.erase("chroot");
	auto rs = checkQemu(config_, env_);
	auto *r = find(rs, "QEMU privilege drop");
	ASSERT_NE(r, nullptr);
	EXPECT_EQ(r->level, CheckLevel::Fail);
	EXPECT_EQ(r->detail, "QEMU 7.2.22 has no -runas / -run-with user= and no -chroot / -run-with chroot=: the "
			     "device model would keep running as root");

	caps_.help.options["runas"] = true;
	rs = checkQemu(config_, env_);
	EXPECT_EQ(find(rs, "QEMU privilege drop")->level, CheckLevel::Fail);
	EXPECT_THAT(find(rs, "QEMU privilege drop")->detail, HasSubstr("has no -chroot / -run-with chroot="));
}

TEST_F(HostCheck, QemuTcgOnly)
{
	caps_ = tcgQemu();
	auto rs = checkQemu(config_, env_);
	auto *accel = find(rs, "QEMU Xen accelerator");
	ASSERT_NE(accel, nullptr);
	EXPECT_EQ(accel->level, CheckLevel::Fail);
	EXPECT_THAT(accel->detail, HasSubstr("is not a Xen device model (accelerators: tcg, kvm)"));
	EXPECT_THAT(accel->hint, HasSubstr("qemu-system-xen"));
	auto *restrict = find(rs, "QEMU -xen-domid-restrict");
	EXPECT_EQ(restrict->level, CheckLevel::Fail);
	EXPECT_THAT(restrict->detail, HasSubstr("unusable without the Xen accelerator"));

	caps_.help.options.erase("xen-domid-restrict");
	caps_.accelerators.clear();
	rs = checkQemu(config_, env_);
	EXPECT_EQ(find(rs, "QEMU Xen accelerator")->detail,
		  config_.defaultQemu + " is not a Xen device model (accelerators: none)");
	EXPECT_EQ(find(rs, "QEMU -xen-domid-restrict")->detail,
		  "QEMU 7.2.22 lacks it: the device model could reach every domain");
}

TEST_F(HostCheck, QemuBinaryProblems)
{
	config_.defaultQemu = "qemu-system-i386";
	auto rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].level, CheckLevel::Fail);
	EXPECT_EQ(rs[0].detail, "The configured QEMU \"qemu-system-i386\" is not an absolute path");

	config_.defaultQemu = (root_ / "bin/missing").string();
	rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].level, CheckLevel::Fail);
	EXPECT_EQ(rs[0].detail, config_.defaultQemu + ": No such file or directory");
	EXPECT_THAT(rs[0].hint, HasSubstr("apt install qemu-system-xen"));
	EXPECT_THAT(rs[0].hint, HasSubstr("Qemu="));

	write("bin/noexec", "");
	::chmod((root_ / "bin/noexec").c_str(), 0644);
	config_.defaultQemu = (root_ / "bin/noexec").string();
	rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].detail, config_.defaultQemu + " is not an executable file");

	config_.defaultQemu = (root_ / "bin").string();
	rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].detail, config_.defaultQemu + " is not an executable file");
	EXPECT_TRUE(probed_.empty());
}

TEST_F(HostCheck, QemuProbeFails)
{
	probeError_ = true;
	auto rs = checkQemu(config_, env_);
	ASSERT_EQ(rs.size(), 1u);
	EXPECT_EQ(rs[0].level, CheckLevel::Fail);
	EXPECT_EQ(rs[0].detail, "Failed to probe " + config_.defaultQemu + ": QEMU said nothing");
	EXPECT_THAT(rs[0].hint, HasSubstr("-version"));
}

TEST_F(HostCheck, ExtraDevices)
{
	EXPECT_TRUE(checkExtraDevices(config_, env_).empty());

	config_.extraDevices = { { "/dev/foo", "rw" }, { "/dev/gone", "r" }, { "/dev/sub/file", "rwm" } };
	charDevice("dev/foo");
	write("dev/sub/file", "");
	auto rs = checkExtraDevices(config_, env_);
	ASSERT_EQ(rs.size(), 3u);
	EXPECT_EQ(rs[0].name, "Device /dev/foo");
	EXPECT_EQ(rs[0].level, CheckLevel::Pass);
	EXPECT_EQ(rs[0].detail, "Character device, allowed \"rw\"");
	EXPECT_EQ(rs[1].level, CheckLevel::Warn);
	EXPECT_EQ(rs[1].detail, "DeviceAllow=/dev/gone r names a node device models will not get: No such file or "
				"directory");
	EXPECT_EQ(rs[2].level, CheckLevel::Warn);
	EXPECT_EQ(rs[2].detail, "/dev/sub/file is not a device node");
}

/* ---- the report ---- */

TEST(HostCheckExitCode, FollowsTheWorstResult)
{
	CheckResult p{ "a", CheckLevel::Pass, "ok", "" };
	CheckResult w{ "b", CheckLevel::Warn, "hmm", "do x" };
	CheckResult f{ "c", CheckLevel::Fail, "no", "do y" };
	EXPECT_EQ(hostCheckExitCode({}), 0);
	EXPECT_EQ(hostCheckExitCode({ p, p }), 0);
	EXPECT_EQ(hostCheckExitCode({ p, w, p }), 1);
	EXPECT_EQ(hostCheckExitCode({ f, w, p }), 2);
	EXPECT_EQ(hostCheckExitCode({ p, f }), 2);
	EXPECT_EQ(worstCheckLevel({ w, p }), CheckLevel::Warn);
	EXPECT_EQ(kHostCheckExitPass, 0);
	EXPECT_EQ(kHostCheckExitWarn, 1);
	EXPECT_EQ(kHostCheckExitFail, 2);
	EXPECT_EQ(checkLevelName(CheckLevel::Pass), "PASS");
	EXPECT_EQ(checkLevelName(CheckLevel::Warn), "WARN");
	EXPECT_EQ(checkLevelName(CheckLevel::Fail), "FAIL");
}

TEST(FormatHostChecks, AlignsNamesAndIndentsHints)
{
	std::vector<CheckResult> rs = {
		{ "Xen hypervisor", CheckLevel::Pass, "Running under Xen", "" },
		{ "NSS", CheckLevel::Fail, "passwd lacks systemd", "Add it" },
		{ "QEMU -sandbox", CheckLevel::Warn, "No seccomp", "Informational" },
		{ "cgroup", CheckLevel::Pass, "Unified", "ignored on pass" },
	};
	EXPECT_EQ(formatHostChecks(rs), "PASS  Xen hypervisor : Running under Xen\n"
					"FAIL  NSS            : passwd lacks systemd\n"
					"      hint: Add it\n"
					"WARN  QEMU -sandbox  : No seccomp\n"
					"      hint: Informational\n"
					"PASS  cgroup         : Unified\n");
	EXPECT_EQ(formatHostChecks({}), "");
}

TEST_F(HostCheck, ReadyHostPassesEverything)
{
	perfectHost();
	auto rs = runHostChecks(config_, env_);
	std::vector<std::string> names;
	for (const auto &r : rs) {
		names.push_back(r.name);
		EXPECT_EQ(r.level, CheckLevel::Pass) << r.name << ": " << r.detail;
	}
	EXPECT_EQ(names, (std::vector<std::string>{
			     "Xen hypervisor", "/dev/xen/privcmd", "/dev/xen/evtchn", "/dev/xen/hypercall", "xenstored",
			     "systemd version", "cgroup hierarchy", "NSS", "Range base user", "User database",
			     "Shared user", "QEMU binary", "QEMU Xen accelerator", "QEMU -xen-domid-restrict",
			     "QEMU privilege drop", "QEMU -sandbox", "POSIX ACLs on /dev", "Device control" }));
	EXPECT_EQ(hostCheckExitCode(rs), kHostCheckExitPass);
	/* The root model needs no grant. */
	config_.privilegeModel = PrivilegeModel::Root;
	EXPECT_EQ(runHostChecks(config_, env_).size(), names.size() - 2);
}

TEST_F(HostCheck, Debian12Dom0WarnsAboutSandboxOnly)
{
	perfectHost();
	caps_.sandbox = false;
	auto rs = runHostChecks(config_, env_);
	EXPECT_EQ(hostCheckExitCode(rs), kHostCheckExitWarn);
	EXPECT_EQ(find(rs, "QEMU -sandbox")->level, CheckLevel::Warn);
}

TEST_F(HostCheck, EmptyHostFailsWithoutCrashing)
{
	config_.defaultQemu = (root_ / "bin/missing").string();
	auto rs = runHostChecks(config_, env_);
	EXPECT_EQ(hostCheckExitCode(rs), kHostCheckExitFail);
	EXPECT_EQ(find(rs, "Xen hypervisor")->level, CheckLevel::Fail);
	EXPECT_EQ(find(rs, "QEMU -sandbox"), nullptr); /* not probed */
	EXPECT_FALSE(formatHostChecks(rs).empty());
}

TEST_F(HostCheck, NoUserLookupUsesTheSystem)
{
	env_.users = nullptr;
	auto rs = runHostChecks(config_, env_);
	EXPECT_NE(env_.users, nullptr);
	EXPECT_NE(find(rs, "Range base user"), nullptr);
}

/* This machine, as it is: no crash, and an honest verdict on Xen. */
TEST(HostCheckSystem, RunsOnThisMachine)
{
	Config config; /* the compiled-in defaults */
	HostCheckEnv env = systemHostCheckEnv();
	auto rs = runHostChecks(config, env);
	std::string report = formatHostChecks(rs);
	std::cout << report;
	ASSERT_GE(rs.size(), 12u);
	for (const auto &r : rs) {
		EXPECT_FALSE(r.name.empty());
		EXPECT_FALSE(r.detail.empty()) << r.name;
		if (r.level != CheckLevel::Pass) {
			EXPECT_FALSE(r.hint.empty()) << r.name;
		}
	}
	struct stat st;
	if (::stat("/sys/hypervisor/type", &st) < 0) {
		EXPECT_EQ(find(rs, "Xen hypervisor")->level, CheckLevel::Fail);
		EXPECT_THAT(find(rs, "Xen hypervisor")->detail, HasSubstr("Not running under Xen"));
	}
	if (::stat("/dev/xen", &st) < 0) {
		for (const char *n : { "/dev/xen/privcmd", "/dev/xen/evtchn" })
			EXPECT_EQ(find(rs, n)->level, CheckLevel::Fail) << n;
		EXPECT_EQ(find(rs, "/dev/xen/hypercall")->level, CheckLevel::Fail); /* LimitMEMLOCK=0 */
		EXPECT_EQ(hostCheckExitCode(rs), kHostCheckExitFail);
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The QEMU probe: parsers against the fake flavours and against Debian 12's
 * real binaries, the cache, and failure modes.
 */

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "qemu_probe.h"
#include "test_support.h"
#include "test_util.h"

using namespace qemudm;
using namespace qemudm::test;
namespace fs = std::filesystem;

namespace {

constexpr const char *kXenQemu = "/usr/libexec/xen-qemu-system-i386";
constexpr const char *kTcgQemu = "/usr/bin/qemu-system-i386";

std::string fakeQemu()
{
	const char *p = std::getenv("FAKE_QEMU");
	return p ? p : "";
}

size_t countFiles(const fs::path &dir)
{
	return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

} /* namespace */

TEST(QemuVersionParse, ReadsDebianAndUpstreamLines)
{
	EXPECT_EQ(*parseQemuVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright"),
		  (QemuVersion{ 7, 2, 22 }));
	EXPECT_EQ(*parseQemuVersion("QEMU emulator version 9.1.0\n"), (QemuVersion{ 9, 1, 0 }));
	EXPECT_EQ(*parseQemuVersion("QEMU emulator version 10.0\n"), (QemuVersion{ 10, 0, 0 }));
	EXPECT_FALSE(parseQemuVersion("").ok());
	EXPECT_FALSE(parseQemuVersion("bash, version 5.2").ok());
	EXPECT_FALSE(parseQemuVersion("QEMU emulator version x.y").ok());
	EXPECT_LT((QemuVersion{ 8, 2, 0 }), (QemuVersion{ 9, 0, 0 }));
}

TEST(QemuHelpParse, OptionArity)
{
	QemuHelp h = *parseQemuHelp(findFakeFlavour("7.2-xen")->help);
	struct {
		const char *name;
		bool arg;
	} expected[] = {
		{ "h", false },
		{ "help", false },
		{ "version", false },
		{ "machine", true },
		{ "m", true },
		{ "S", false },
		{ "no-shutdown", false },
		{ "xen-domid", true },
		{ "xen-attach", false },
		{ "xen-domid-restrict", false },
		{ "chroot", true },
		{ "runas", true },
		{ "sandbox", true },
		{ "async-teardown", false },
		{ "display", true },
		{ "vnc", true },
		{ "nographic", false },
		{ "incoming", true },
	};
	for (const auto &e : expected) {
		auto it = h.options.find(e.name);
		ASSERT_NE(it, h.options.end()) << e.name;
		EXPECT_EQ(it->second, e.arg) << e.name;
	}
	EXPECT_FALSE(h.has("run-with"));
	EXPECT_FALSE(parseQemuHelp("just some text\n-x\n").ok());
}

TEST(QemuHelpParse, RunWithKeysPerVersion)
{
	struct {
		const char *flavour;
		bool runas, chroot, runWith, rwChroot, rwUser;
	} table[] = {
		{ "7.2-xen", true, true, false, false, false }, { "8.1", true, true, true, true, false },
		{ "9.0", true, false, true, true, false },	{ "9.1", true, false, true, true, true },
		{ "10.0", false, false, true, true, true }, /* user= on a continuation line */
	};
	for (const auto &t : table) {
		QemuCaps c = fakeCaps(t.flavour);
		EXPECT_EQ(c.runas(), t.runas) << t.flavour;
		EXPECT_EQ(c.chroot(), t.chroot) << t.flavour;
		EXPECT_EQ(c.runWith(), t.runWith) << t.flavour;
		EXPECT_EQ(c.runWithChroot(), t.rwChroot) << t.flavour;
		EXPECT_EQ(c.runWithUser(), t.rwUser) << t.flavour;
		EXPECT_TRUE(c.help.has("xen-domid-restrict")) << t.flavour;
	}
	EXPECT_TRUE(fakeCaps("7.2-xen").xenDomidRestrict());
	EXPECT_FALSE(fakeCaps("7.2-tcg").xenDomidRestrict()); /* listed, but no Xen accelerator */
}

TEST(QemuAccelParse, ListsAccelerators)
{
	EXPECT_EQ(*parseAccelHelp("Accelerators supported in QEMU binary:\ntcg\nkvm\n"),
		  (std::vector<std::string>{ "tcg", "kvm" }));
	EXPECT_EQ(*parseAccelHelp("Accelerators supported in QEMU binary:\nxen\n"),
		  (std::vector<std::string>{ "xen" }));
	EXPECT_FALSE(parseAccelHelp("qemu: -accel help: invalid option\n").ok());
}

TEST(QemuCapsCache, SerialisationRoundTrips)
{
	for (const FakeQemuFlavour &f : kFakeFlavours) {
		QemuCaps c = fakeCaps(f.name);
		auto back = deserializeQemuCaps(serializeQemuCaps(c));
		ASSERT_TRUE(back.ok()) << f.name << ": " << back.error().message();
		EXPECT_EQ(back->version, c.version);
		EXPECT_EQ(back->help.options, c.help.options);
		EXPECT_EQ(back->accelerators, c.accelerators);
		EXPECT_EQ(back->sandbox, c.sandbox);
		EXPECT_EQ(back->runWithUser(), c.runWithUser());
		EXPECT_EQ(back->runWithChroot(), c.runWithChroot());
	}
	EXPECT_FALSE(deserializeQemuCaps("").ok());
	EXPECT_FALSE(deserializeQemuCaps("qemu-dm-probe 2\nversion 7.2.0\n").ok());
	EXPECT_FALSE(deserializeQemuCaps("qemu-dm-probe 2\nversion 7.2.0\naccelerators xen\nsandbox 2\n"
					 "run-with-chroot 0\nrun-with-user 0\noptions runas:1\n")
			 .ok());
}

/* Version 1 entries may have been written from inside a DM's unit: never read. */
TEST(QemuCapsCache, VersionOneEntriesAreNeverRead)
{
	std::string v2 = serializeQemuCaps(fakeCaps("7.2-xen"));
	ASSERT_TRUE(deserializeQemuCaps(v2).ok());
	std::string v1 = "qemu-dm-probe 1" + v2.substr(v2.find('\n'));
	EXPECT_FALSE(deserializeQemuCaps(v1).ok());
}

/* The --qemu-caps word: what the caller hands to qemu-dm-exec on the unit's own command line. */
TEST(QemuCapsWord, RoundTripsEveryFlavour)
{
	QemuBinaryId id{ 2049, 123456, 7654321, 1700000000123456789, -5, 0755 };
	for (const FakeQemuFlavour &f : kFakeFlavours) {
		QemuCaps c = fakeCaps(f.name);
		std::string word = encodeQemuCaps(id, c);
		/* One argv word that neither systemd nor a shell splits, expands or reads specifiers in. */
		EXPECT_EQ(
		    word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._,:/=-"),
		    std::string::npos)
		    << word;
		auto back = decodeQemuCaps(word);
		ASSERT_TRUE(back.ok()) << f.name << ": " << back.error().message();
		EXPECT_EQ(back->id, id);
		EXPECT_EQ(back->caps.version, c.version);
		EXPECT_EQ(back->caps.help.options, c.help.options);
		EXPECT_EQ(back->caps.accelerators, c.accelerators);
		EXPECT_EQ(back->caps.sandbox, c.sandbox);
		EXPECT_EQ(back->caps.xenDomidRestrict(), c.xenDomidRestrict());
		EXPECT_EQ(back->caps.runWithUser(), c.runWithUser());
		EXPECT_EQ(back->caps.runWithChroot(), c.runWithChroot());
	}
}

TEST(QemuCapsWord, RefusesMalformedWords)
{
	std::string good = encodeQemuCaps(QemuBinaryId{ 1, 2, 3, 4, 5, 0755 }, fakeCaps("7.2-xen"));
	ASSERT_TRUE(decodeQemuCaps(good).ok());
	auto field = [&](size_t n) {
		size_t b = 0;
		for (size_t i = 0; i < n; i++)
			b = good.find('/', b) + 1;
		return b;
	};
	const std::string bad[] = {
		"",
		"1" + good.substr(1),						  /* another format version */
		good + "/x",							  /* seventh field */
		good.substr(0, field(5) - 1),					  /* no options */
		"3/1:2:3:4:5/" + good.substr(field(2)),				  /* short identity */
		"3/01:2:3:4:5:493/" + good.substr(field(2)),			  /* non-canonical number */
		"3/1:2:3:4:5:99999/" + good.substr(field(2)),			  /* not permission bits */
		good.substr(0, field(2)) + "7.2/" + good.substr(field(3)),	  /* two-part version */
		good.substr(0, field(3)) + "x en/" + good.substr(field(4)),	  /* space in an accelerator */
		good.substr(0, field(4)) + "012/" + good.substr(field(5)) + "$X", /* '$' in an option */
		good.substr(0, field(4)) + "2" + good.substr(field(4) + 1),	  /* flag not 0/1 */
		good + ",runas=1",						  /* an option twice */
		good + ",runas",						  /* option without arity */
	};
	for (const std::string &w : bad)
		EXPECT_FALSE(decodeQemuCaps(w).ok()) << w;
}

TEST(QemuProbeReal, DebianXenQemu)
{
	if (access(kXenQemu, X_OK) != 0)
		GTEST_SKIP() << kXenQemu << " not installed (apt-get install qemu-system-xen)";
	auto p = probeQemu(kXenQemu, {});
	ASSERT_TRUE(p.ok()) << p.error().message();
	const QemuCaps &c = p->caps;
	EXPECT_EQ(c.version.major, 7u);
	EXPECT_EQ(c.accelerators, (std::vector<std::string>{ "xen" }));
	EXPECT_TRUE(c.xenDomidRestrict());
	EXPECT_TRUE(c.runas());
	EXPECT_TRUE(c.chroot());
	EXPECT_FALSE(c.runWith());
	EXPECT_TRUE(c.sandboxListed());
	EXPECT_FALSE(c.sandbox) << "Debian 12's Xen QEMU is built without libseccomp (no -sandbox)";
	EXPECT_FALSE(c.help.options.at("xen-domid-restrict"));
	EXPECT_TRUE(c.help.options.at("xen-domid"));
	EXPECT_TRUE(c.help.options.at("chardev"));
	EXPECT_FALSE(c.help.options.at("async-teardown"));
	EXPECT_FALSE(p->fromCache);
}

TEST(QemuProbeReal, DebianTcgStandIn)
{
	if (access(kTcgQemu, X_OK) != 0)
		GTEST_SKIP() << kTcgQemu << " not installed (apt-get install qemu-system-x86)";
	auto p = probeQemu(kTcgQemu, {});
	ASSERT_TRUE(p.ok()) << p.error().message();
	const QemuCaps &c = p->caps;
	EXPECT_EQ(c.version.major, 7u);
	EXPECT_FALSE(c.hasAccelerator("xen"));
	EXPECT_TRUE(c.hasAccelerator("tcg"));
	EXPECT_TRUE(c.help.has("xen-domid-restrict")) << "7.2 lists it even without Xen";
	EXPECT_FALSE(c.xenDomidRestrict());
	EXPECT_TRUE(c.runas());
	EXPECT_TRUE(c.chroot());
	EXPECT_FALSE(c.runWith());
}

TEST(QemuProbeCache, StoresReusesAndInvalidates)
{
	if (fakeQemu().empty())
		GTEST_SKIP() << "FAKE_QEMU not set (run through meson test)";
	TempDir tmp;
	fs::path bin = tmp.path() / "qemu";
	fs::copy_file(fakeQemu(), bin);
	fs::path cache = tmp.path() / "cache";
	fs::create_directory(cache);
	fs::permissions(cache, fs::perms::owner_all, fs::perm_options::replace);

	QemuProbeOptions opts;
	opts.cacheDir = cache;
	auto first = probeQemu(bin, opts);
	ASSERT_TRUE(first.ok()) << first.error().message();
	EXPECT_FALSE(first->fromCache);
	ASSERT_EQ(countFiles(cache), 1u);
	fs::path entry = fs::directory_iterator(cache)->path();
	EXPECT_EQ(fs::status(entry).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

	auto second = probeQemu(bin, opts);
	ASSERT_TRUE(second.ok());
	EXPECT_TRUE(second->fromCache);
	EXPECT_EQ(second->caps.version, first->caps.version);
	EXPECT_EQ(second->caps.help.options, first->caps.help.options);

	/* A corrupt entry is ignored and replaced. */
	std::ofstream(entry, std::ios::trunc) << "garbage\n";
	auto third = probeQemu(bin, opts);
	ASSERT_TRUE(third.ok());
	EXPECT_FALSE(third->fromCache);
	EXPECT_TRUE(probeQemu(bin, opts)->fromCache);

	/* A replaced binary (new mtime) is probed again. */
	fs::last_write_time(bin, fs::last_write_time(bin) - std::chrono::hours(1));
	EXPECT_FALSE(probeQemu(bin, opts)->fromCache);
	EXPECT_EQ(countFiles(cache), 2u);
}

/* The key is the binary's identity: replaced (new inode), rewritten (size/mtime) or chmod'ed (ctime). */
TEST(QemuProbeCache, KeyedOnTheBinarysIdentity)
{
	if (fakeQemu().empty())
		GTEST_SKIP() << "FAKE_QEMU not set (run through meson test)";
	TempDir tmp;
	fs::path bin = tmp.path() / "qemu";
	fs::copy_file(fakeQemu(), bin);
	fs::path cache = tmp.path() / "a" / "cache";

	QemuProbeOptions opts;
	opts.cacheDir = cache;
	opts.createCacheDir = true;
	auto first = probeQemu(bin, opts);
	ASSERT_TRUE(first.ok()) << first.error().message();
	EXPECT_FALSE(first->fromCache);
	/* Created private: no DM and no other user can write it. */
	EXPECT_EQ(fs::status(cache).permissions() & fs::perms::all, fs::perms::owner_all);
	auto id = identifyQemu(bin);
	ASSERT_TRUE(id.ok());
	EXPECT_EQ(first->id, *id);
	EXPECT_TRUE(probeQemu(bin, opts)->fromCache);

	/* chmod changes only the ctime and the mode: another binary. */
	fs::permissions(bin, fs::perms::owner_all, fs::perm_options::replace);
	auto changed = identifyQemu(bin);
	ASSERT_TRUE(changed.ok());
	EXPECT_NE(*changed, *id);
	auto afterChmod = probeQemu(bin, opts);
	ASSERT_TRUE(afterChmod.ok());
	EXPECT_FALSE(afterChmod->fromCache);
	EXPECT_EQ(afterChmod->id, *changed);

	/* Replaced by another file at the same path (new inode). */
	fs::path other = tmp.path() / "qemu.new";
	fs::copy_file(fakeQemu(), other);
	fs::rename(other, bin);
	EXPECT_FALSE(probeQemu(bin, opts)->fromCache);

	/* Read-only use (qemu-dm-exec) reads entries but never writes one. */
	fs::path ro = tmp.path() / "ro";
	fs::create_directory(ro);
	fs::permissions(ro, fs::perms::owner_all, fs::perm_options::replace);
	QemuProbeOptions roOpts;
	roOpts.cacheDir = ro;
	roOpts.readOnly = true;
	ASSERT_TRUE(probeQemu(bin, roOpts).ok());
	EXPECT_EQ(countFiles(ro), 0u);
}

TEST(QemuProbeCache, UnusableDirectoryMeansNoCache)
{
	if (fakeQemu().empty())
		GTEST_SKIP() << "FAKE_QEMU not set (run through meson test)";
	TempDir tmp;
	QemuProbeOptions opts;

	opts.cacheDir = tmp.path() / "missing";
	auto p = probeQemu(fakeQemu(), opts);
	ASSERT_TRUE(p.ok()) << p.error().message();
	EXPECT_FALSE(probeQemu(fakeQemu(), opts)->fromCache);

	fs::path shared = tmp.path() / "shared";
	fs::create_directory(shared);
	fs::permissions(shared, fs::perms::all, fs::perm_options::replace); /* 0777: others could poison it */
	opts.cacheDir = shared;
	ASSERT_TRUE(probeQemu(fakeQemu(), opts).ok());
	EXPECT_FALSE(probeQemu(fakeQemu(), opts)->fromCache);
	EXPECT_EQ(countFiles(shared), 0u);
}

TEST(QemuProbeFailure, ReportsWhatWentWrong)
{
	auto missing = probeQemu("/nonexistent/qemu", {});
	ASSERT_FALSE(missing.ok());
	EXPECT_NE(missing.error().message().find("/nonexistent/qemu"), std::string::npos);

	EXPECT_FALSE(probeQemu("relative/qemu", {}).ok());

	auto notQemu = probeQemu("/bin/true", {});
	ASSERT_FALSE(notQemu.ok());
	EXPECT_NE(notQemu.error().message().find("QEMU emulator version"), std::string::npos)
	    << notQemu.error().message();

	auto failing = probeQemu("/bin/false", {});
	ASSERT_FALSE(failing.ok());
	EXPECT_NE(failing.error().message().find("exited with status 1"), std::string::npos)
	    << failing.error().message();

	TempDir tmp;
	fs::path slow = tmp.path() / "slow-qemu";
	std::ofstream(slow) << "#!/bin/sh\nexec sleep 30\n";
	fs::permissions(slow, fs::perms::owner_all);
	QemuProbeOptions opts;
	opts.timeout = std::chrono::milliseconds(200);
	auto start = std::chrono::steady_clock::now();
	auto hung = probeQemu(slow, opts);
	ASSERT_FALSE(hung.ok());
	EXPECT_EQ(hung.error().code(), ETIMEDOUT);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

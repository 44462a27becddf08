/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The xenstore part of a request, against an in-memory xenstore laid out as
 * libxl 4.17 writes it (a PV guest with a qdisk disk, a read-only ISO and an
 * empty CD-ROM).
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "xen_store.h"

using namespace qemudm;
using ::testing::HasSubstr;

namespace {

class FakeXenstore final : public XenstoreReader
{
public:
	std::map<std::string, std::string> nodes;
	bool fail = false;

	Result<std::optional<std::string>> read(const std::string &path) override
	{
		if (fail)
			return makeError(EACCES, "Failed to read xenstore {}: Permission denied", path);
		auto it = nodes.find(path);
		if (it == nodes.end())
			return std::optional<std::string>();
		return std::optional<std::string>(it->second);
	}
	Result<std::vector<std::string>> directory(const std::string &path) override
	{
		if (fail)
			return makeError(EACCES, "Failed to list xenstore {}: Permission denied", path);
		std::vector<std::string> out;
		std::string prefix = path + "/";
		for (const auto &[k, v] : nodes) {
			if (k.rfind(prefix, 0) != 0)
				continue;
			std::string child = k.substr(prefix.size(), k.find('/', prefix.size()) - prefix.size());
			if (out.empty() || out.back() != child)
				out.push_back(child);
		}
		return out;
	}
};

class XenStore : public ::testing::Test
{
protected:
	void SetUp() override
	{
		const std::string b = "/local/domain/0/backend/qdisk/7";
		xs.nodes = {
			{ "/local/domain/7/name", "pvq" },
			{ b + "/51712/params", "raw:/srv/xen/pvq.img" },
			{ b + "/51712/mode", "w" },
			{ b + "/51712/device-type", "disk" },
			{ b + "/51728/params", "raw:/srv/iso/debian.iso" },
			{ b + "/51728/mode", "r" },
			{ b + "/51728/device-type", "cdrom" },
			{ b + "/51744/params", "" },
			{ b + "/51744/mode", "r" },
			{ "/local/domain/0/backend/qdisk/8/51712/params", "raw:/srv/xen/other.img" },
		};
	}
	FakeXenstore xs;
};

} /* namespace */

TEST_F(XenStore, ReadsTheQdiskBackendOfTheDomain)
{
	auto disks = xenQdiskDisks(xs, 7);
	ASSERT_TRUE(disks.ok()) << disks.error().message();
	ASSERT_EQ(disks->size(), 2u);
	EXPECT_EQ((*disks)[0].path, "/srv/xen/pvq.img");
	EXPECT_FALSE((*disks)[0].readOnly);
	EXPECT_EQ((*disks)[1].path, "/srv/iso/debian.iso");
	EXPECT_TRUE((*disks)[1].readOnly);
	EXPECT_TRUE(xenQdiskDisks(xs, 9)->empty());
}

TEST_F(XenStore, CompletesAPvRequestButNotAnHvmOne)
{
	DmRequest pv;
	pv.domid = 7;
	pv.type = GuestType::Pv;
	pv.disks.push_back({ "/srv/xen/pvq.img", false }); /* already declared: not twice */
	std::vector<std::string> warnings;
	ASSERT_TRUE(completeFromXenstore(pv, xs, warnings).ok());
	EXPECT_EQ(pv.name, "pvq");
	ASSERT_EQ(pv.disks.size(), 2u);
	EXPECT_EQ(pv.disks[1].path, "/srv/iso/debian.iso");

	DmRequest hvm;
	hvm.domid = 7;
	hvm.name = "given";
	ASSERT_TRUE(completeFromXenstore(hvm, xs, warnings).ok());
	EXPECT_EQ(hvm.name, "given");	/* the caller's name wins */
	EXPECT_TRUE(hvm.disks.empty()); /* HVM disks are in QEMU's argv */
	EXPECT_TRUE(warnings.empty());
}

TEST_F(XenStore, SkipsANameQemuDmWouldRefuse)
{
	xs.nodes["/local/domain/7/name"] = "my guest";
	DmRequest r;
	r.domid = 7;
	std::vector<std::string> warnings;
	ASSERT_TRUE(completeFromXenstore(r, xs, warnings).ok());
	EXPECT_EQ(r.name, "");
	ASSERT_EQ(warnings.size(), 1u);
	EXPECT_THAT(warnings[0], HasSubstr("not using its name 'my guest'"));

	/* Issue 10: the same alphabet as a declared name, and no raw control character in the warning. */
	xs.nodes["/local/domain/7/name"] = "web\x1b]0;x\x07";
	warnings.clear();
	ASSERT_TRUE(completeFromXenstore(r, xs, warnings).ok());
	EXPECT_EQ(r.name, "");
	ASSERT_EQ(warnings.size(), 1u);
	EXPECT_THAT(warnings[0], HasSubstr("'web\\x1b]0;x\\x07'"));
	xs.nodes["/local/domain/7/name"] = "web-1.example";
	warnings.clear();
	ASSERT_TRUE(completeFromXenstore(r, xs, warnings).ok());
	EXPECT_EQ(r.name, "web-1.example");
}

TEST_F(XenStore, RefusesRelativeImagesAndReportsReadErrors)
{
	xs.nodes["/local/domain/0/backend/qdisk/7/51712/params"] = "raw:pvq.img";
	auto disks = xenQdiskDisks(xs, 7);
	ASSERT_FALSE(disks.ok());
	EXPECT_THAT(disks.error().message(), HasSubstr("domain 7: qdisk 51712 has params 'raw:pvq.img'"));

	xs.fail = true;
	DmRequest r;
	r.domid = 7;
	r.type = GuestType::Pvh;
	std::vector<std::string> warnings;
	auto s = completeFromXenstore(r, xs, warnings);
	ASSERT_FALSE(s.ok());
	EXPECT_THAT(s.error().message(), HasSubstr("domain 7: Failed to read its name"));
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Issue 10, class 1: the names a caller gives for a domain, each with one alphabet and length. */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dm_names.h"

using namespace qemudm;
using ::testing::HasSubstr;

TEST(DmNames, DomainNames)
{
	for (const char *n : { "web", "Domain-0", "db_1.example", "a+b@c", "x" })
		EXPECT_TRUE(checkDomainName(5, n).ok()) << n;
	for (const std::string &n :
	     std::vector<std::string>{ "", "a b", "web\x1b[2J", "a\nb", "-x", ".hidden", "a/b", "a:b", "$HOME", "a%h",
				       "q\"", std::string(65, 'a'), std::string("a\0b", 3), "caf\xc3\xa9" }) {
		auto r = checkDomainName(5, n);
		ASSERT_FALSE(r.ok()) << n;
		EXPECT_THAT(r.error().message(), HasSubstr("domain 5: the domain name"));
	}
	EXPECT_TRUE(checkDomainName(5, std::string(64, 'a')).ok());
	/* No raw control character in the message. */
	auto esc = checkDomainName(5, "web\x1b[2J");
	ASSERT_FALSE(esc.ok());
	EXPECT_THAT(esc.error().message(), HasSubstr("'web\\x1b[2J'"));
	EXPECT_EQ(esc.error().message().find('\x1b'), std::string::npos);
}

TEST(DmNames, TapNames)
{
	for (const std::string &n : std::vector<std::string>{ "vif5.0-emu", "tap0", "a_b", std::string(15, 't') })
		EXPECT_TRUE(checkTapName(5, n).ok()) << n;
	for (const std::string &n : std::vector<std::string>{ "", "tap 0", "tap0:1", "../x", "a/b", ".", "..", "-t",
							      std::string(16, 't'), "t\tx" })
		EXPECT_FALSE(checkTapName(5, n).ok()) << n;
}

TEST(DmNames, DeviceModelUserNames)
{
	for (const char *n : { "dmuser-a", "xen-qemuuser-shared", "_qemu", "Q" })
		EXPECT_TRUE(checkDeviceModelUserName(5, n).ok()) << n;
	for (const std::string &n :
	     std::vector<std::string>{ "", "0", "131077", "a b", "a:b", "-x", "a.b", "a\nb", std::string(32, 'u') }) {
		auto r = checkDeviceModelUserName(5, n);
		ASSERT_FALSE(r.ok()) << n;
		EXPECT_THAT(r.error().message(), HasSubstr("domain 5: the device_model_user"));
	}
}

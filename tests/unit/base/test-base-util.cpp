/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The base module: one parser, string, path and file helper each (common/{parse,string,path,file}_util.h). */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "dm_names.h"
#include "file_util.h"
#include "parse_util.h"
#include "path_util.h"
#include "string_util.h"
#include "unique_fd.h"
#include "test_util.h"

using namespace qemudm;
using ::testing::HasSubstr;

TEST(StringUtil, TrimRemovesSystemdWhitespaceOnly)
{
	EXPECT_EQ(trim(" \t a b \r\n"), "a b");
	EXPECT_EQ(trim(""), "");
	EXPECT_EQ(trim(" \t\r\n"), "");
	EXPECT_EQ(trim("\va\f"), "\va\f"); /* not WHITESPACE in systemd either */
	EXPECT_TRUE(isWhitespace('\n'));
	EXPECT_FALSE(isWhitespace('x'));
}

TEST(StringUtil, PrintableEscapesEverythingATerminalCouldActOn)
{
	EXPECT_EQ(printable("plain /path-1"), "plain /path-1");
	EXPECT_EQ(printable("web\x1b[2J"), "web\\x1b[2J");
	EXPECT_EQ(printable("a\\b"), "a\\x5cb"); /* unambiguous: a shown "\x41" was not 'A' */
	EXPECT_EQ(printable(std::string("a\0b\x7f\xc3", 5)), "a\\x00b\\x7f\\xc3");
}

TEST(StringUtil, PopLineTakesOneLineAtATime)
{
	std::string_view text = "a\n\nb";
	EXPECT_EQ(popLine(text), "a");
	EXPECT_EQ(popLine(text), "");
	EXPECT_EQ(popLine(text), "b");
	EXPECT_TRUE(text.empty());
	std::string_view last = "c\n";
	EXPECT_EQ(popLine(last), "c");
	EXPECT_TRUE(last.empty());
}

TEST(StringUtil, SplitOnKeepsEmptyFieldsSplitRecordsDropsTheFinalTerminator)
{
	using V = std::vector<std::string_view>;
	EXPECT_EQ(splitOn("a..b", '.'), (V{ "a", "", "b" }));
	EXPECT_EQ(splitOn("", '.'), (V{ "" }));
	EXPECT_EQ(splitOn("a.", '.'), (V{ "a", "" }));
	EXPECT_EQ(splitRecords("a\nb\n"), (V{ "a", "b" }));
	EXPECT_EQ(splitRecords("a\n\nb"), (V{ "a", "", "b" }));
	EXPECT_EQ(splitRecords(""), V{});
	EXPECT_EQ(splitRecords(std::string_view("x\0y\0", 4), '\0'), (V{ "x", "y" }));
}

TEST(ParseUtil, IntegersAreDigitsOnly)
{
	EXPECT_EQ(parseInteger<uint64_t>("18446744073709551615"), UINT64_MAX);
	EXPECT_EQ(parseInteger<uint32_t>("0"), 0u);
	EXPECT_EQ(parseInteger<uint32_t>("777", 8), 0777u);
	EXPECT_EQ(parseInteger<int>("-5"), -5);
	for (const char *bad : { "", " 1", "1 ", "+1", "-1", "0x10", "1e3", "18446744073709551616", "4294967296" })
		EXPECT_FALSE(parseInteger<uint32_t>(bad).has_value()) << bad;
	uint16_t out = 7;
	EXPECT_FALSE(parseInteger("70000", out));
	EXPECT_EQ(out, 7); /* untouched on failure */
	EXPECT_TRUE(parseInteger("ff", out, 16));
	EXPECT_EQ(out, 255);
}

TEST(ParseUtil, BooleansAsSystemd)
{
	for (const char *t : { "1", "yes", "y", "true", "t", "on", "YES", "On" })
		EXPECT_EQ(parseBoolean(t), true) << t;
	for (const char *f : { "0", "no", "n", "false", "f", "off", "No", "OFF" })
		EXPECT_EQ(parseBoolean(f), false) << f;
	for (const char *bad : { "", "maybe", "2", "yes ", "enable" })
		EXPECT_FALSE(parseBoolean(bad).has_value()) << bad;
}

TEST(ParseUtil, TimespansAsSystemd)
{
	EXPECT_EQ(parseTimespan("0"), 0u);
	EXPECT_EQ(parseTimespan("5"), 5 * kUSecPerSec);
	EXPECT_EQ(parseTimespan("5", 1), 5u); /* a bare number in the caller's unit */
	EXPECT_EQ(parseTimespan("250ms"), 250000u);
	EXPECT_EQ(parseTimespan("1min 30s"), 90 * kUSecPerSec);
	EXPECT_EQ(parseTimespan("1h 1m 1s 1ms"), 3661001000ULL);
	EXPECT_EQ(parseTimespan("2.5h"), 9000 * kUSecPerSec);
	EXPECT_EQ(parseTimespan("1500ns"), 1u);
	EXPECT_EQ(parseTimespan("infinity"), kInfinity);
	for (const char *bad : { "", "s", "5x", "-1", "1 2 x", "99999999999999999999y" })
		EXPECT_FALSE(parseTimespan(bad).has_value()) << bad;
}

TEST(ParseUtil, SizesAsSystemd)
{
	EXPECT_EQ(parseSize("0"), 0u);
	EXPECT_EQ(parseSize("1K"), 1024u);
	EXPECT_EQ(parseSize("1.5K"), 1536u);
	EXPECT_EQ(parseSize("1G 512M"), (1ULL << 30) + (512ULL << 20));
	EXPECT_EQ(parseSize("15E"), 15ULL << 60);
	for (const char *bad : { "", "K", "10KB", "16E", "50%", "infinity", "-1" })
		EXPECT_FALSE(parseSize(bad).has_value()) << bad;
}

TEST(ParseUtil, SignalsAsSystemd)
{
	EXPECT_EQ(parseSignal("9"), SIGKILL);
	EXPECT_EQ(parseSignal("TERM"), SIGTERM);
	EXPECT_EQ(parseSignal("SIGUSR1"), SIGUSR1);
	EXPECT_EQ(parseSignal("RTMIN+2"), SIGRTMIN + 2);
	EXPECT_EQ(parseSignal("SIGRTMAX-1"), SIGRTMAX - 1);
	for (const char *bad : { "", "0", "-9", "TERMX", "sigterm", "RTMIN-1", "65" })
		EXPECT_FALSE(parseSignal(bad).has_value()) << bad;
}

TEST(PathUtil, NormalizedAbsolutePaths)
{
	for (const char *ok : { "/a", "/usr/bin/qemu", "/a.b/..c" })
		EXPECT_TRUE(isNormalizedAbsolutePath(ok)) << ok;
	for (const char *bad : { "", "/", "a", "a/b", "/a/", "//a", "/a//b", "/./a", "/a/..", "/a/../b" })
		EXPECT_FALSE(isNormalizedAbsolutePath(bad)) << bad;
}

/* systemd's strict valid_user_group_name(): the one rule for config, qemu-dm-exec and declared users. */
TEST(UserNames, OneRuleSystemdStrict)
{
	for (const std::string &ok :
	     std::vector<std::string>{ "xen-qemuuser-5", "xen-qemuuser-range-base", "xen-qemuuser-shared", "_apt", "A",
				       "www-data", std::string(31, 'u') })
		EXPECT_TRUE(validUserName(ok)) << ok;
	for (const std::string &bad :
	     std::vector<std::string>{ "", "1abc", "131077", "-x", "a.b", "a:b", "a/b", "a b", "a\nb", "caf\xc3\xa9",
				       ".", "..", std::string(32, 'u') })
		EXPECT_FALSE(validUserName(bad)) << bad;
}

class FileUtil : public testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		dir_ = tmp_.path();
	}

	qemudm::test::TempDir tmp_{ "test-base-util" };
	std::filesystem::path dir_;
};

TEST_F(FileUtil, ReadsARegularFile)
{
	std::ofstream(dir_ / "f") << "one\ntwo\n";
	auto r = readFile(dir_ / "f");
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(**r, "one\ntwo\n");
	auto proc = readFile("/proc/self/status", { .missingOk = true }); /* st_size 0: read to the end */
	ASSERT_TRUE(proc.ok());
	EXPECT_THAT(**proc, HasSubstr("Uid:"));
}

TEST_F(FileUtil, MissingIsAnErrorUnlessMissingOk)
{
	auto r = readFile(dir_ / "none");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ENOENT);
	EXPECT_THAT(r.error().message(), HasSubstr("Failed to open " + (dir_ / "none").string()));
	for (auto p : { dir_ / "none", dir_ / "none" / "x", std::filesystem::path("/proc/999999999/status") }) {
		auto m = readFile(p, { .missingOk = true });
		ASSERT_TRUE(m.ok()) << p;
		EXPECT_FALSE(m->has_value()) << p;
	}
}

TEST_F(FileUtil, NonRegularFilesAreRefusedWithoutBlocking)
{
	ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
	auto start = std::chrono::steady_clock::now();
	auto fifo = readFile(dir_ / "fifo"); /* no writer: a blocking open would hang here */
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
	ASSERT_FALSE(fifo.ok());
	EXPECT_THAT(fifo.error().message(), HasSubstr("not a regular file but a FIFO"));

	auto d = readFile(dir_);
	ASSERT_FALSE(d.ok());
	EXPECT_THAT(d.error().message(), HasSubstr("not a regular file but a directory"));

	UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::string path = (dir_ / "sock").string();
	ASSERT_LT(path.size(), sizeof(sa.sun_path));
	path.copy(sa.sun_path, path.size());
	ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
	auto s = readFile(path);
	ASSERT_FALSE(s.ok());
	EXPECT_THAT(s.error().message(), HasSubstr("not a regular file but a socket"));
}

TEST_F(FileUtil, DevNullIsEmptyAndSizeIsBounded)
{
	std::filesystem::create_symlink("/dev/null", dir_ / "masked");
	auto m = readFile(dir_ / "masked");
	ASSERT_TRUE(m.ok());
	EXPECT_EQ(**m, "");

	std::ofstream(dir_ / "big") << std::string(100, 'x');
	auto big = readFile(dir_ / "big", { .maxSize = 99 });
	ASSERT_FALSE(big.ok());
	EXPECT_EQ(big.error().code(), EFBIG);
	EXPECT_THAT(big.error().message(), HasSubstr("larger than 99 bytes"));
	EXPECT_TRUE(readFile(dir_ / "big", { .maxSize = 100 }).ok());
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bus_property: each typed per-domain value is sent with the D-Bus
 * signature systemd 252 reads for its property, and printed as the
 * unit-file line that reads back as the same value. "Reads back" is checked
 * against tests/support/unit_property, the unit-file text converter that the
 * integration suite proves equal to `systemd-run -p`: the printed line,
 * converted, gives exactly the typed message. Values that no line could
 * carry are refused.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <set>
#include <string>
#include <vector>

#include "bus_message.h"
#include "bus_property.h"
#include "dm_unit.h"
#include "qemu_probe.h"
#include "unit_property.h"
#include "fake_user_lookup.h"
#include "test_util.h"

using namespace qemudm;
using namespace qemudm::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

std::vector<Entry> typed(const BusProperty &p)
{
	Message msg;
	auto r = appendBusProperty(msg.get(), p);
	EXPECT_TRUE(r.ok()) << p.name << ": " << (r.ok() ? "" : r.error().message());
	return msg.entries();
}

/*
 * The printed line as a unit file reads it: "%%" is the specifier for '%'
 * (resolved here, as systemd does for unit files; systemd-run -p sends it
 * as is), then the text converter, which mirrors systemd's value grammar.
 */
std::vector<Entry> viaText(const BusProperty &p)
{
	std::string printed = formatBusProperty(p), line;
	for (size_t i = 0; i < printed.size(); i++) {
		line += printed[i];
		if (printed[i] == '%' && i + 1 < printed.size() && printed[i + 1] == '%')
			i++;
	}
	std::vector<Entry> all;
	/* DeviceAllow= prints one line per rule. */
	size_t start = 0;
	while (start <= line.size()) {
		size_t nl = line.find('\n', start);
		std::string one = line.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
		auto a = parseUnitPropertyAssignment(one);
		EXPECT_TRUE(a.ok()) << one;
		if (!a.ok())
			return {};
		Message msg;
		auto r = appendUnitProperty(msg.get(), a->name, a->value);
		EXPECT_TRUE(r.ok()) << one << ": " << (r.ok() ? "" : r.error().message());
		for (auto &e : msg.entries())
			all.push_back(e);
		if (nl == std::string::npos)
			break;
		start = nl + 1;
	}
	return all;
}

/* Typed == expected, and the printed line reads back as the same message. */
void expectProperty(const BusProperty &p, const std::string &line, const std::string &signature,
		    const std::string &value)
{
	EXPECT_EQ(formatBusProperty(p), line);
	EXPECT_EQ(busSignature(p.value), signature);
	auto t = typed(p);
	EXPECT_THAT(t, ElementsAre(Entry{ p.name, signature, value })) << line;
	EXPECT_EQ(viaText(p), t) << "the line " << line << " does not read back as the value sent";
}

std::string refused(const BusProperty &p)
{
	auto s = checkBusProperty(p);
	EXPECT_FALSE(s.ok()) << formatBusProperty(p) << " was accepted";
	Message msg;
	EXPECT_FALSE(appendBusProperty(msg.get(), p).ok());
	EXPECT_TRUE(msg.entries().empty()) << "a refused property was appended";
	return s.ok() ? "" : s.error().message();
}

} /* namespace */

TEST(BusProperty, SignaturesAndLinesOfEveryPerDomainKind)
{
	expectProperty({ "PrivateNetwork", true }, "PrivateNetwork=yes", "b", "true");
	expectProperty({ "MemoryDenyWriteExecute", false }, "MemoryDenyWriteExecute=no", "b", "false");
	expectProperty({ "Description", std::string("Xen device model for domain 5 (web-1)") },
		       "Description=Xen device model for domain 5 (web-1)", "s",
		       "Xen device model for domain 5 (web-1)");
	expectProperty({ "Type", std::string("notify") }, "Type=notify", "s", "notify");
	expectProperty({ "TimeoutStartUSec", Usec{ 60000000 } }, "TimeoutStartSec=60s", "t", "60000000");
	expectProperty({ "TimeoutStopUSec", Usec{ 1500 } }, "TimeoutStopSec=1500us", "t", "1500");
	expectProperty({ "RuntimeDirectoryMode", FileMode{ 0700 } }, "RuntimeDirectoryMode=0700", "u", "448");
	expectProperty({ "SystemCallErrorNumber", ErrnoNumber{ EPERM } }, "SystemCallErrorNumber=EPERM", "i", "1");
	expectProperty({ "CapabilityBoundingSet", Capabilities{ { CAP_NET_ADMIN } } },
		       "CapabilityBoundingSet=cap_net_admin", "t", std::to_string(uint64_t(1) << CAP_NET_ADMIN));
	expectProperty({ "Environment", Strings{ { "XEN_DOMAIN_ID=5", "QEMU_DM_UID=131077" } } },
		       "Environment=XEN_DOMAIN_ID=5 QEMU_DM_UID=131077", "as", "[XEN_DOMAIN_ID=5,QEMU_DM_UID=131077]");
	expectProperty({ "RuntimeDirectory", Strings{ { "qemu-dm/5" } } }, "RuntimeDirectory=qemu-dm/5", "as",
		       "[qemu-dm/5]");
	expectProperty({ "ReadWritePaths", Strings{ { "/srv/xen/web-1.img" } } }, "ReadWritePaths=/srv/xen/web-1.img",
		       "as", "[/srv/xen/web-1.img]");
	expectProperty({ "LogExtraFields", JournalFields{ { "XEN_DOMID=5" } } }, "LogExtraFields=XEN_DOMID=5", "aay",
		       "['XEN_DOMID=5']");
	expectProperty({ "RestrictAddressFamilies", AddressFamilies{ true, { "AF_UNIX", "AF_INET", "AF_INET6" } } },
		       "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "(bas)",
		       "(true,[AF_UNIX,AF_INET,AF_INET6])");
	expectProperty({ "BindPaths", BindPaths{ { { "/dev/net/tun", "/dev/net/tun" } } } }, "BindPaths=/dev/net/tun",
		       "a(ssbt)", "[(/dev/net/tun,/dev/net/tun,false,16384)]");
	expectProperty({ "DeviceAllow", DeviceRules{ { { "/dev/net/tun", "rw" } } } }, "DeviceAllow=/dev/net/tun rw",
		       "a(ss)", "[(/dev/net/tun,rw)]");
	expectProperty({ "IPAddressAllow", ipLocalhost() }, "IPAddressAllow=localhost", "a(iayu)",
		       "[(2,0x7f000000,8),(10,0x00000000000000000000000000000001,128)]");
	expectProperty({ "IPAddressDeny", ipAny() }, "IPAddressDeny=any", "a(iayu)",
		       "[(2,0x00000000,0),(10,0x00000000000000000000000000000000,0)]");
	IpPrefix v4{ AF_INET, { 10, 1, 2, 0 }, 24 };
	expectProperty({ "IPAddressAllow", IpPrefixes{ { v4 } } }, "IPAddressAllow=10.1.2.0/24", "a(iayu)",
		       "[(2,0x0a010200,24)]");
	expectProperty({ "ExecStart", ExecArgv{ { "/usr/libexec/qemu-dm-exec", "--", "/q", "-name", "web-1" } } },
		       "ExecStart=/usr/libexec/qemu-dm-exec -- /q -name web-1", "a(sasb)",
		       "[(/usr/libexec/qemu-dm-exec,[/usr/libexec/qemu-dm-exec,--,/q,-name,web-1],false)]");
}

TEST(BusProperty, SpecialCharactersArePrintedSoTheyReadBackAsOneValue)
{
	/* '%' is a specifier in unit files: doubled, and sent as itself. */
	expectProperty({ "Description", std::string("100% (a)") }, "Description=100%% (a)", "s", "100% (a)");
	expectProperty({ "ExecStart", ExecArgv{ { "/q", "%n", "a b", "q\"uote", "back\\slash", "it's", "", "-x", "+x",
						  "~x", "@x", ":x", "é" } } },
		       "ExecStart=/q %%n \"a b\" \"q\\\"uote\" \"back\\\\slash\" \"it's\" \"\" -x +x ~x @x :x \"é\"",
		       "a(sasb)", "[(/q,[/q,%n,a b,q\"uote,back\\slash,it's,,-x,+x,~x,@x,:x,é],false)]");
	/* A list word with a space stays one element. */
	expectProperty({ "ReadOnlyPaths", Strings{ { "/srv/a b.img", "/srv/c" } } },
		       "ReadOnlyPaths=\"/srv/a b.img\" /srv/c", "as", "[/srv/a b.img,/srv/c]");
	expectProperty({ "Environment", Strings{ { "A=two words", "B=%h" } } }, "Environment=\"A=two words\" B=%%h",
		       "as", "[A=two words,B=%h]");
	expectProperty({ "BindPaths", BindPaths{ { { "/srv/x", "/dev/y", true, false } } } },
		       "BindPaths=-/srv/x:/dev/y:norbind", "a(ssbt)", "[(/srv/x,/dev/y,true,0)]");
	BusProperty two{ "DeviceAllow", DeviceRules{ { { "/dev/a", "r" }, { "/dev/c", "rwm" } } } };
	EXPECT_EQ(formatBusProperty(two), "DeviceAllow=/dev/a r\nDeviceAllow=/dev/c rwm");
	EXPECT_THAT(typed(two), ElementsAre(Entry{ "DeviceAllow", "a(ss)", "[(/dev/a,r),(/dev/c,rwm)]" }));
}

TEST(BusProperty, ValuesNoLineCouldCarryAreRefused)
{
	EXPECT_THAT(refused({ "Description", std::string("a\nExecStartPre=/bin/evil") }),
		    HasSubstr("control character"));
	EXPECT_THAT(refused({ "Description", std::string("ends in \\") }), HasSubstr("ends with"));
	EXPECT_THAT(refused({ "Description", std::string("\xff") }), HasSubstr("UTF-8"));
	/* A leading '-' or '+' on a path would change its meaning (ignore if missing, ...). */
	EXPECT_THAT(refused({ "ReadWritePaths", Strings{ { "-/srv/a.img" } } }), HasSubstr("not an absolute path"));
	EXPECT_THAT(refused({ "ReadOnlyPaths", Strings{ { "+/srv/a.img" } } }), HasSubstr("not an absolute path"));
	EXPECT_THAT(refused({ "BindPaths", BindPaths{ { { "relative", "/x" } } } }), HasSubstr("source"));
	/*
	 * systemd-run and unit files split a bind path at ':' and unquote it
	 * differently, and DeviceAllow= paths at the first space: such paths are
	 * refused rather than escaped (declared paths never contain them).
	 */
	EXPECT_THAT(refused({ "BindPaths", BindPaths{ { { "/srv/a:b", "/srv/a:b" } } } }), HasSubstr("':'"));
	EXPECT_THAT(refused({ "BindPaths", BindPaths{ { { "/srv/a b", "/srv/a b" } } } }), HasSubstr("' '"));
	EXPECT_THAT(refused({ "DeviceAllow", DeviceRules{ { { "/dev/a b", "r" } } } }), HasSubstr("' '"));
	EXPECT_THAT(refused({ "DeviceAllow", DeviceRules{ { { "/dev/x", "rwx" } } } }), HasSubstr("rwm"));
	EXPECT_THAT(refused({ "LogExtraFields", JournalFields{ { "lower=x" } } }), HasSubstr("upper-case"));
	EXPECT_THAT(refused({ "Capabilities", Capabilities{ { 63 } } }), HasSubstr("unknown"));
	EXPECT_THAT(refused({ "ExecStart", ExecArgv{ { "relative" } } }), HasSubstr("absolute"));
	EXPECT_THAT(refused({ "ExecStart", ExecArgv{} }), HasSubstr("absolute"));
	EXPECT_THAT(refused({ "Bad Name", true }), HasSubstr("not a property name"));
}

TEST(BusProperty, ExecArgumentsSystemdCannotReadBackAreRefused)
{
	for (std::string arg : { "$HOME", "${X}", "a$$b", "a;b", ";", "`id`", "tab\there", "new\nline", "\x7f" }) {
		EXPECT_FALSE(checkExecArgument(arg).ok()) << arg;
		EXPECT_FALSE(checkBusProperty({ "ExecStart", ExecArgv{ { "/q", arg } } }).ok()) << arg;
	}
	EXPECT_THAT(checkExecArgument("$HOME").error().message(), HasSubstr("contains '$'"));
	EXPECT_THAT(checkExecArgument("a;b").error().message(), HasSubstr("daemon-reload"));
	EXPECT_THAT(checkBusProperty({ "ExecStart", ExecArgv{ { "/q", "ok", "${X}" } } }).error().message(),
		    HasSubstr("ExecStart: argument 2: '${X}' contains '$'"));
	for (std::string arg : { "%n", "a b", "\"", "\\", "'", "", "-", "+x", "file=/a,if=ide", "é" })
		EXPECT_TRUE(checkExecArgument(arg).ok()) << arg;
	/* The caller's probe result rides on qemu-dm-exec's command line. */
	QemuCaps caps;
	caps.accelerators = { "xen", "tcg" };
	caps.help.options = { { "runas", true }, { "xen-domid-restrict", false } };
	std::string word = encodeQemuCaps(QemuBinaryId{ 1, 2, 3, 4, 5, 0755 }, caps);
	EXPECT_TRUE(checkExecArgument(word).ok()) << word;
}

TEST(BusProperty, ARefusedPropertyInAListAppendsNothing)
{
	Message msg;
	auto r = appendBusProperties(
	    msg.get(),
	    { { "PrivateNetwork", true }, { "ReadWritePaths", Strings{ { "relative" } } }, { "PrivateIPC", true } });
	EXPECT_FALSE(r.ok());
	EXPECT_TRUE(msg.entries().empty());
}

TEST(BusProperty, CapabilityNames)
{
	EXPECT_EQ(capabilityNumber("CAP_NET_ADMIN"), CAP_NET_ADMIN);
	EXPECT_EQ(capabilityNumber("cap_sys_chroot"), CAP_SYS_CHROOT);
	EXPECT_EQ(capabilityNumber("cap_nope"), -1);
	EXPECT_EQ(capabilityName(CAP_SETUID), "cap_setuid");
	EXPECT_EQ(capabilityName(64), "");
}

/*
 * A whole plan with every kind of per-domain property (name, disks, a
 * device, taps, VNC, W+X): every property the plan holds reads back from
 * the line `qemu-dmctl policy` prints for it as exactly the value sent.
 */
TEST(BusProperty, EveryLineOfAPlanReadsBackAsItsValue)
{
	/*
	 * Declared objects need parents that only root or we can write: a directory
	 * of our own below /var/lib when root (the build dir may sit below /var/tmp or
	 * /tmp, which every user can write), else below the build dir.
	 */
	TempDir tmp("qemu-dm-bus-property",
		    ::geteuid() == 0 ? std::filesystem::path("/var/lib") : std::filesystem::current_path());
	ASSERT_TRUE(tmp) << "could not make a directory for the declared objects";
	const std::filesystem::path &dir = tmp.path();
	::chmod(dir.c_str(), 0755);
	const std::string disk = (dir / "a+b~c,d=e@f_g-h.img").string(), ro = (dir / "ro.img").string();
	std::ofstream(disk) << "x";
	std::ofstream(ro) << "x";

	DmRequest req;
	req.domid = 7;
	req.name = "web-1.example_a+b@c";
	req.disks = { { disk, false }, { ro, true } };
	req.devices = { { "/dev/null", "rw" } };
	req.taps = { "vif7.0-emu" };
	req.vncLocalhost = true;
	req.allowWriteExecute = true;
	req.consoleLimit = "1048576";
	req.domainCheck = false;
	req.qemuArgv = { "/bin/true", "-name", "web-1", "%n", "a b", "it's", "q\"x", "back\\slash", "" };
	test::FakeUserLookup users; /* the range base user only: per-domain uids are computed, nothing runs */
	users.add("xen-qemuuser-range-base", 131072, 995);
	Config config;
	config.privilegeModel = PrivilegeModel::Root; /* emulated NICs: the root model serves them */
	auto plan = planDmUnit(config, req, users);
	ASSERT_TRUE(plan.ok()) << plan.error().message();

	std::set<std::string> names;
	for (const auto &p : plan->properties) {
		names.insert(p.name);
		EXPECT_TRUE(checkBusProperty(p).ok()) << formatBusProperty(p);
		EXPECT_EQ(viaText(p), typed(p)) << formatBusProperty(p);
	}
	BusProperty exec = execStartProperty(*plan);
	EXPECT_EQ(viaText(exec), typed(exec)) << formatBusProperty(exec);
	for (const char *n :
	     { "Description", "TimeoutStopUSec", "LogExtraFields", "Environment", "RuntimeDirectoryMode",
	       "PrivateNetwork", "MemoryDenyWriteExecute", "SystemCallErrorNumber", "BindReadOnlyPaths", "DeviceAllow",
	       "BindPaths", "CapabilityBoundingSet", "RestrictAddressFamilies", "IPAddressAllow", "IPAddressDeny" })
		EXPECT_TRUE(names.count(n)) << n << " is not in the plan";

	std::string text = formatPlan(*plan);
	/* Declared disks are bound into the allow-list view. */
	EXPECT_THAT(text, HasSubstr("\nBindPaths=" + disk + "\n"));
	EXPECT_THAT(text, HasSubstr("\nBindReadOnlyPaths=" + ro + "\n"));
	EXPECT_THAT(text, HasSubstr("\nDeviceAllow=/dev/null rw\nBindPaths=/dev/null\n"));
	EXPECT_THAT(text, HasSubstr("\nPrivateNetwork=no\nMemoryDenyWriteExecute=no\n"));
	EXPECT_THAT(text, HasSubstr("\nIPAddressAllow=localhost\nIPAddressDeny=any\n"));
	EXPECT_THAT(text, HasSubstr("\nLogExtraFields=XEN_DOMAIN_NAME=web-1.example_a+b@c\n"));
	EXPECT_THAT(text,
		    HasSubstr(" -- /bin/true -name web-1 %%n \"a b\" \"it's\" \"q\\\"x\" \"back\\\\slash\" \"\"\n"));
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "json.h"
#include "test_util.h"
#include "userdb_service.h"

using namespace qemudm;
using namespace qemudm::userdb;
using json::Value;

namespace {

constexpr const char *kService = "org.xenproject.QemuDm";
constexpr uint32_t kBase = 131072;
constexpr uint32_t kBaseGid = 131000;

/* An in-memory user/group database standing for "every other source". */
class FakeAccounts final : public Accounts
{
public:
	std::map<std::string, Account> users;
	std::map<std::string, Account> groups;
	bool fail = false;
	unsigned calls = 0;
	/* What stateId() answers: unset, nothing may be kept (the default of Accounts). */
	std::optional<std::string> state;

	void addUser(const std::string &name, uint32_t uid, uint32_t gid) { users[name] = { name, uid, gid }; }
	void addGroup(const std::string &name, uint32_t gid) { groups[name] = { name, gid, gid }; }

	Result<std::optional<Account>> userByName(const std::string &name) override
	{
		return find(users, &name, std::nullopt);
	}
	Result<std::optional<Account>> userById(uint32_t uid) override { return find(users, nullptr, uid); }
	Result<std::optional<Account>> groupByName(const std::string &name) override
	{
		return find(groups, &name, std::nullopt);
	}
	Result<std::optional<Account>> groupById(uint32_t gid) override { return find(groups, nullptr, gid); }
	std::optional<std::string> stateId() override { return state; }

private:
	Result<std::optional<Account>> find(const std::map<std::string, Account> &db, const std::string *name,
					    std::optional<uint32_t> id)
	{
		calls++;
		if (fail)
			return makeError(EIO, "backend down");
		for (const auto &[n, a] : db) {
			if ((name && *name == n) || (id && *id == a.id))
				return std::optional<Account>(a);
		}
		return std::optional<Account>();
	}
};

class UserdbService : public ::testing::Test
{
protected:
	FakeAccounts accounts;
	ServiceOptions options;

	void SetUp() override
	{
		options.serviceName = kService;
		accounts.addUser("root", 0, 0);
		accounts.addUser("xen-qemuuser-range-base", kBase, kBaseGid);
		accounts.addGroup("root", 0);
		accounts.addGroup("xen-qemuuser-range-base", kBaseGid);
	}

	/* All replies of one request, parsed. */
	std::vector<Value> call(const std::string &message)
	{
		Service service(options, accounts);
		Response r = service.handleMessage(message);
		std::vector<Value> out;
		for (const auto &m : r.replies)
			out.push_back(parse(m));
		while (r.stream) {
			auto m = r.stream->next();
			if (!m)
				break;
			out.push_back(parse(*m));
		}
		return out;
	}

	Value call1(const std::string &message)
	{
		auto v = call(message);
		EXPECT_EQ(v.size(), 1u) << message;
		return v.empty() ? Value() : v.front();
	}

	static Value parse(const std::string &m)
	{
		auto v = json::parse(m);
		EXPECT_TRUE(v.ok()) << m;
		return v.ok() ? *v : Value();
	}

	static std::string request(const std::string &method, const std::string &params, const std::string &extra = "")
	{
		return "{\"method\":\"" + method + "\",\"parameters\":" + params + extra + "}";
	}

	static std::string user(const std::string &params, const std::string &extra = "")
	{
		return request("io.systemd.UserDatabase.GetUserRecord", params, extra);
	}

	static std::string group(const std::string &params, const std::string &extra = "")
	{
		return request("io.systemd.UserDatabase.GetGroupRecord", params, extra);
	}

	static std::string svc(const std::string &rest = "")
	{
		return std::string("{\"service\":\"") + kService + "\"" + (rest.empty() ? "" : "," + rest) + "}";
	}

	static std::string error(const Value &reply)
	{
		const Value *e = reply.find("error");
		return e && e->asString() ? *e->asString() : "";
	}

	static const Value *record(const Value &reply)
	{
		const Value *p = reply.find("parameters");
		return p ? p->find("record") : nullptr;
	}
};

} /* namespace */

TEST(DomainUserName, ParsesOnlyCanonicalNames)
{
	EXPECT_EQ(domidFromUserName("xen-qemuuser-1"), 1u);
	EXPECT_EQ(domidFromUserName("xen-qemuuser-5"), 5u);
	EXPECT_EQ(domidFromUserName("xen-qemuuser-32751"), 32751u);
	for (const char *bad :
	     { "xen-qemuuser-0", "xen-qemuuser-32752", "xen-qemuuser-05", "xen-qemuuser-+5", "xen-qemuuser--5",
	       "xen-qemuuser-5 ", "xen-qemuuser-", "xen-qemuuser-5a", "xen-qemuuser-99999999999", "XEN-QEMUUSER-5",
	       "xen-qemuuser-range-base", "xen-qemuuser-shared", "xen-qemuuser-reaper", "qemuuser-5", "" })
		EXPECT_FALSE(domidFromUserName(bad)) << bad;
	EXPECT_EQ(perDomainUserName(42), "xen-qemuuser-42");
}

TEST_F(UserdbService, AnswersUserByUid)
{
	Value r = call1(user(svc("\"uid\":131077")));
	ASSERT_EQ(error(r), "");
	const Value *rec = record(r);
	ASSERT_TRUE(rec);
	EXPECT_EQ(*rec->find("userName")->asString(), "xen-qemuuser-5");
	EXPECT_EQ(rec->find("uid")->asUint32(), 131077u);
	EXPECT_EQ(rec->find("gid")->asUint32(), kBaseGid); /* upstream: the base user's primary group */
	EXPECT_EQ(*rec->find("shell")->asString(), "/usr/sbin/nologin");
	EXPECT_EQ(*rec->find("homeDirectory")->asString(), "/");
	EXPECT_EQ(rec->find("locked")->asBool(), true);
	EXPECT_EQ(*rec->find("service")->asString(), kService);
	EXPECT_EQ(*rec->find("disposition")->asString(), "system");
	EXPECT_EQ(r.find("parameters")->find("incomplete")->asBool(), false);
	EXPECT_EQ(r.find("continues"), nullptr);
}

TEST_F(UserdbService, AnswersUserByNameAndByBoth)
{
	Value r = call1(user(svc("\"userName\":\"xen-qemuuser-32751\"")));
	ASSERT_TRUE(record(r));
	EXPECT_EQ(record(r)->find("uid")->asUint32(), kBase + 32751);

	r = call1(user(svc("\"uid\":131073,\"userName\":\"xen-qemuuser-1\"")));
	ASSERT_TRUE(record(r));
	EXPECT_EQ(*record(r)->find("userName")->asString(), "xen-qemuuser-1");
}

TEST_F(UserdbService, AnswersOnlyWhileTheDomainsUnitIsLoaded)
{
	std::set<uint32_t> loaded;
	unsigned asked = 0;
	options.dmUnitLoaded = [&](uint32_t domid) {
		asked++;
		return loaded.count(domid) > 0;
	};
	/* Before the DM starts: neither the uid nor the name resolves (libxl's clash check passes). */
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"userName\":\"xen-qemuuser-5\"")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(call1(group(svc("\"gid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_GT(asked, 0u);

	/* While its unit is loaded: by number and by name, user and group. */
	loaded.insert(5);
	unsigned before = accounts.calls;
	Value r = call1(user(svc("\"uid\":131077")));
	ASSERT_TRUE(record(r)) << error(r);
	EXPECT_EQ(*record(r)->find("userName")->asString(), "xen-qemuuser-5");
	EXPECT_TRUE(record(call1(user(svc("\"userName\":\"xen-qemuuser-5\"")))));
	EXPECT_TRUE(record(call1(group(svc("\"groupName\":\"xen-qemuuser-5\"")))));
	EXPECT_GT(accounts.calls, before);
	/* Other domains still do not resolve. */
	EXPECT_EQ(error(call1(user(svc("\"uid\":131078")))), "io.systemd.UserDatabase.NoRecordFound");

	/* After stop: gone again, and without asking the other sources. */
	loaded.clear();
	before = accounts.calls;
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(accounts.calls, before + 1); /* the range base user only */
}

/* The other sources' answers are kept while their state is unchanged (docs/userdb.md, "What is cached"). */
TEST_F(UserdbService, KeepsTheOtherSourcesAnswersWhileTheirStateIsUnchanged)
{
	accounts.state = "one";
	bool loaded = true;
	options.dmUnitLoaded = [&](uint32_t) { return loaded; };
	Service service(options, accounts);
	auto ask = [&](const std::string &m) { return parse(service.handleMessage(m).replies.at(0)); };

	ASSERT_TRUE(record(ask(user(svc("\"uid\":131077")))));
	const unsigned first = accounts.calls;
	EXPECT_EQ(first, 5u); /* the range base user, then uid, user name, gid, group name */
	/* The same domain again, by number, by name, as a group: nothing asked. */
	ASSERT_TRUE(record(ask(user(svc("\"uid\":131077")))));
	ASSERT_TRUE(record(ask(user(svc("\"userName\":\"xen-qemuuser-5\"")))));
	ASSERT_TRUE(record(ask(group(svc("\"gid\":131077")))));
	EXPECT_EQ(accounts.calls, first);

	/* The unit check is never cached: stopped means gone at once. */
	loaded = false;
	EXPECT_EQ(error(ask(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	loaded = true;

	/* Another source now defines the name: unnoticed while the state is the same... */
	accounts.addUser("xen-qemuuser-5", 4242, 4242);
	/* ...which is why the state must cover every source; once it changes, the pair is refused. */
	accounts.state = "two";
	EXPECT_EQ(error(ask(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(ask(group(svc("\"gid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_GT(accounts.calls, first);
	accounts.users.erase("xen-qemuuser-5");
	accounts.state = "three";
	EXPECT_TRUE(record(ask(user(svc("\"uid\":131077")))));
}

TEST_F(UserdbService, KeepsNothingWhenTheSourcesCannotTell)
{
	options.dmUnitLoaded = [](uint32_t) { return true; };
	Service service(options, accounts);
	auto ask = [&](const std::string &m) { return parse(service.handleMessage(m).replies.at(0)); };
	ASSERT_TRUE(record(ask(user(svc("\"uid\":131077")))));
	unsigned first = accounts.calls;
	ASSERT_TRUE(record(ask(user(svc("\"uid\":131077")))));
	EXPECT_EQ(accounts.calls, 2 * first);
	/* Defined elsewhere: refused at once, with no state to compare. */
	accounts.addGroup("xen-qemuuser-5", 777);
	EXPECT_EQ(error(ask(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, NeverKeepsAFailedLookup)
{
	accounts.state = "same";
	options.dmUnitLoaded = [](uint32_t) { return true; };
	Service service(options, accounts);
	auto ask = [&](const std::string &m) { return parse(service.handleMessage(m).replies.at(0)); };
	accounts.fail = true;
	EXPECT_EQ(error(ask(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.ServiceNotAvailable");
	accounts.fail = false;
	EXPECT_TRUE(record(ask(user(svc("\"uid\":131077")))));
}

TEST_F(UserdbService, EnumeratesOnlyLoadedDomains)
{
	options.enumerate = true;
	options.dmUnitLoaded = [](uint32_t domid) { return domid == 3 || domid == 70; };
	auto replies = call(user(svc(), ",\"more\":true"));
	ASSERT_EQ(replies.size(), 2u);
	EXPECT_EQ(*record(replies[0])->find("userName")->asString(), "xen-qemuuser-3");
	EXPECT_EQ(*record(replies[1])->find("userName")->asString(), "xen-qemuuser-70");
}

TEST_F(UserdbService, ReportsConflictsBetweenUidAndName)
{
	EXPECT_EQ(error(call1(user(svc("\"uid\":131073,\"userName\":\"xen-qemuuser-2\"")))),
		  "io.systemd.UserDatabase.ConflictingRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"uid\":131073,\"userName\":\"root\"")))),
		  "io.systemd.UserDatabase.ConflictingRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"uid\":1000,\"userName\":\"xen-qemuuser-2\"")))),
		  "io.systemd.UserDatabase.ConflictingRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"uid\":1000,\"userName\":\"root\"")))),
		  "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, AnswersOnlyInsideTheRange)
{
	for (const char *p : { "\"uid\":131072", "\"uid\":163824", "\"uid\":0", "\"uid\":1000", "\"uid\":4294967294",
			       "\"userName\":\"xen-qemuuser-0\"", "\"userName\":\"xen-qemuuser-32752\"",
			       "\"userName\":\"xen-qemuuser-05\"", "\"userName\":\"xen-qemuuser-+5\"",
			       "\"userName\":\"xen-qemuuser-range-base\"", "\"userName\":\"root\"", "\"userName\":\"\"",
			       "\"userName\":\"xen-qemuuser-5\\u0000\"" })
		EXPECT_EQ(error(call1(user(svc(p)))), "io.systemd.UserDatabase.NoRecordFound") << p;
	EXPECT_TRUE(record(call1(user(svc("\"uid\":163823")))));
}

TEST_F(UserdbService, NeverAnswersForIdsOrNamesOwnedElsewhere)
{
	accounts.addUser("someone", kBase + 7, 100);
	accounts.addUser("xen-qemuuser-8", 5000, 5000);
	accounts.addGroup("othergroup", kBase + 9);
	accounts.addGroup("xen-qemuuser-10", 6000);

	for (uint32_t domid : { 7u, 8u, 9u, 10u }) {
		EXPECT_EQ(error(call1(user(svc(fmt::format("\"uid\":{}", kBase + domid))))),
			  "io.systemd.UserDatabase.NoRecordFound")
		    << domid;
		EXPECT_EQ(error(call1(user(svc(fmt::format("\"userName\":\"xen-qemuuser-{}\"", domid))))),
			  "io.systemd.UserDatabase.NoRecordFound")
		    << domid;
		EXPECT_EQ(error(call1(group(svc(fmt::format("\"gid\":{}", kBase + domid))))),
			  "io.systemd.UserDatabase.NoRecordFound")
		    << domid;
		EXPECT_EQ(error(call1(group(svc(fmt::format("\"groupName\":\"xen-qemuuser-{}\"", domid))))),
			  "io.systemd.UserDatabase.NoRecordFound")
		    << domid;
	}
	EXPECT_TRUE(record(call1(user(svc(fmt::format("\"uid\":{}", kBase + 11))))));
}

TEST_F(UserdbService, AnswersNothingWithoutAUsableBaseUser)
{
	accounts.users.erase("xen-qemuuser-range-base");
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(call1(group(svc("\"groupName\":\"xen-qemuuser-5\"")))),
		  "io.systemd.UserDatabase.NoRecordFound");

	accounts.addUser("xen-qemuuser-range-base", 0, 0);
	EXPECT_EQ(error(call1(user(svc("\"uid\":5")))), "io.systemd.UserDatabase.NoRecordFound");

	accounts.addUser("xen-qemuuser-range-base", kBase, 0); /* gid 0: refused */
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, SkipsInvalidUids)
{
	/* base + domid would be 65535 (the 16-bit "invalid") or (uid_t)-1 */
	accounts.addUser("xen-qemuuser-range-base", 65534, 65534);
	EXPECT_EQ(error(call1(user(svc("\"uid\":65535")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"userName\":\"xen-qemuuser-1\"")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_TRUE(record(call1(user(svc("\"userName\":\"xen-qemuuser-2\"")))));

	accounts.addUser("xen-qemuuser-range-base", 4294967294u - 10, 100);
	EXPECT_EQ(error(call1(user(svc("\"userName\":\"xen-qemuuser-11\"")))), "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_EQ(error(call1(user(svc("\"userName\":\"xen-qemuuser-32751\"")))),
		  "io.systemd.UserDatabase.NoRecordFound");
	EXPECT_TRUE(record(call1(user(svc("\"userName\":\"xen-qemuuser-10\"")))));
}

TEST_F(UserdbService, HonoursTheConfiguredBaseUser)
{
	options.rangeBaseUser = "dm-base";
	accounts.addUser("dm-base", 200000, 200000);
	Value r = call1(user(svc("\"uid\":200003")));
	ASSERT_TRUE(record(r));
	EXPECT_EQ(*record(r)->find("userName")->asString(), "xen-qemuuser-3");
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, ReportsBackendFailures)
{
	accounts.fail = true;
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077")))), "io.systemd.UserDatabase.ServiceNotAvailable");
}

TEST_F(UserdbService, RequiresOurServiceName)
{
	EXPECT_EQ(error(call1(user("{\"uid\":131077}"))), "io.systemd.UserDatabase.BadService");
	EXPECT_EQ(error(call1(user("{\"uid\":131077,\"service\":\"io.systemd.Machine\"}"))),
		  "io.systemd.UserDatabase.BadService");
	EXPECT_EQ(error(call1(group("{\"gid\":131077,\"service\":\"\"}"))), "io.systemd.UserDatabase.BadService");
	EXPECT_EQ(error(call1(request("io.systemd.UserDatabase.GetMemberships", "{}"))),
		  "io.systemd.UserDatabase.BadService");
	Value r = call1(user("{\"uid\":131077,\"service\":5}"));
	EXPECT_EQ(error(r), "org.varlink.service.InvalidParameter");
	EXPECT_EQ(*r.find("parameters")->find("parameter")->asString(), "service");
}

TEST_F(UserdbService, RefusesBadParameterTypes)
{
	const std::pair<const char *, const char *> cases[] = {
		{ "\"uid\":-1", "uid" },
		{ "\"uid\":4294967296", "uid" },
		{ "\"uid\":18446744073709551616", "uid" },
		{ "\"uid\":131077.0", "uid" },
		{ "\"uid\":1.31077e5", "uid" },
		{ "\"uid\":\"131077\"", "uid" },
		{ "\"uid\":true", "uid" },
		{ "\"uid\":[131077]", "uid" },
		{ "\"userName\":5", "userName" },
		{ "\"userName\":{}", "userName" },
		{ "\"uidMin\":-5", "uidMin" },
		{ "\"fuzzyNames\":\"xen\"", "fuzzyNames" },
		{ "\"fuzzyNames\":[1]", "fuzzyNames" },
		{ "\"dispositionMask\":{}", "dispositionMask" },
		{ "\"gid\":131077", "gid" },
		{ "\"groupName\":\"x\"", "groupName" },
		{ "\"bogus\":1", "bogus" },
	};
	for (const auto &[p, name] : cases) {
		Value r = call1(user(svc(p)));
		EXPECT_EQ(error(r), "org.varlink.service.InvalidParameter") << p;
		const Value *params = r.find("parameters");
		ASSERT_TRUE(params && params->find("parameter")) << p;
		EXPECT_EQ(*params->find("parameter")->asString(), name) << p;
	}
	/* null means "not given" */
	EXPECT_TRUE(record(call1(user(svc("\"uid\":131077,\"userName\":null,\"uidMin\":null")))));
}

TEST_F(UserdbService, AppliesSecondaryFilters)
{
	EXPECT_TRUE(record(call1(user(svc("\"uid\":131077,\"uidMin\":131077,\"uidMax\":131077")))));
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077,\"uidMax\":131076")))),
		  "io.systemd.UserDatabase.NonMatchingRecordFound");
	EXPECT_TRUE(record(call1(user(svc("\"uid\":131077,\"dispositionMask\":[\"regular\",\"system\"]")))));
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077,\"dispositionMask\":[\"regular\"]")))),
		  "io.systemd.UserDatabase.NonMatchingRecordFound");
	EXPECT_TRUE(record(call1(user(svc("\"uid\":131077,\"fuzzyNames\":[\"nope\",\"DOMAIN 5\"]")))));
	EXPECT_EQ(error(call1(user(svc("\"uid\":131077,\"fuzzyNames\":[\"domain 6\"]")))),
		  "io.systemd.UserDatabase.NonMatchingRecordFound");
	EXPECT_EQ(error(call1(group(svc("\"gid\":131077,\"gidMin\":131078")))),
		  "io.systemd.UserDatabase.NonMatchingRecordFound");
}

TEST_F(UserdbService, RefusesEnumerationByDefault)
{
	EXPECT_EQ(error(call1(user(svc(), ",\"more\":true"))), "io.systemd.UserDatabase.EnumerationNotSupported");
	EXPECT_EQ(error(call1(group(svc()))), "io.systemd.UserDatabase.EnumerationNotSupported");
}

TEST_F(UserdbService, EnumeratesWithContinuesWhenEnabled)
{
	options.enumerate = true;
	accounts.addUser("someone", kBase + 3, 100);

	EXPECT_EQ(error(call1(user(svc()))), "org.varlink.service.ExpectedMore");

	auto replies = call(user(svc("\"uidMax\":131077"), ",\"more\":true"));
	ASSERT_EQ(replies.size(), 4u); /* domids 1, 2, 4, 5 */
	for (size_t i = 0; i < replies.size(); i++) {
		ASSERT_TRUE(record(replies[i]));
		bool last = i + 1 == replies.size();
		EXPECT_EQ(replies[i].find("continues") != nullptr, !last) << i;
	}
	EXPECT_EQ(*record(replies[2])->find("userName")->asString(), "xen-qemuuser-4");

	auto groups = call(group(svc("\"gidMin\":163820"), ",\"more\":true"));
	EXPECT_EQ(groups.size(), 4u); /* 163820..163823 */

	EXPECT_EQ(error(call1(user(svc("\"uidMax\":5"), ",\"more\":true"))), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, AnswersSingleLookupsWithMoreInOneReply)
{
	Value r = call1(user(svc("\"uid\":131077"), ",\"more\":true"));
	EXPECT_TRUE(record(r));
	EXPECT_EQ(r.find("continues"), nullptr);
}

TEST_F(UserdbService, AnswersPerDomainGroups)
{
	Value r = call1(group(svc("\"gid\":131077")));
	ASSERT_TRUE(record(r));
	EXPECT_EQ(*record(r)->find("groupName")->asString(), "xen-qemuuser-5");
	EXPECT_EQ(record(r)->find("gid")->asUint32(), 131077u);
	EXPECT_EQ(*record(r)->find("service")->asString(), kService);

	EXPECT_TRUE(record(call1(group(svc("\"groupName\":\"xen-qemuuser-5\",\"gid\":131077")))));
	EXPECT_EQ(error(call1(group(svc("\"groupName\":\"xen-qemuuser-5\",\"gid\":131078")))),
		  "io.systemd.UserDatabase.ConflictingRecordFound");
	/* the base user's own group belongs to /etc/group, not to us */
	EXPECT_EQ(error(call1(group(svc("\"gid\":131072")))), "io.systemd.UserDatabase.NoRecordFound");
}

TEST_F(UserdbService, HasNoMemberships)
{
	for (const char *p : { "", "\"userName\":\"xen-qemuuser-5\"", "\"groupName\":\"xen-qemuuser-5\"",
			       "\"userName\":\"xen-qemuuser-5\",\"groupName\":\"xen-qemuuser-5\"" })
		EXPECT_EQ(error(call1(request("io.systemd.UserDatabase.GetMemberships", svc(p), ",\"more\":true"))),
			  "io.systemd.UserDatabase.NoRecordFound")
		    << p;
	EXPECT_EQ(error(call1(request("io.systemd.UserDatabase.GetMemberships", svc("\"userName\":1")))),
		  "org.varlink.service.InvalidParameter");
	EXPECT_EQ(error(call1(request("io.systemd.UserDatabase.GetMemberships", svc("\"uid\":1")))),
		  "org.varlink.service.InvalidParameter");
}

TEST_F(UserdbService, DescribesItselfWithGetInfo)
{
	Value r = call1(R"({"method":"org.varlink.service.GetInfo"})");
	ASSERT_EQ(error(r), "");
	const Value *ifaces = r.find("parameters")->find("interfaces");
	ASSERT_TRUE(ifaces && ifaces->isArray());
	EXPECT_EQ(*ifaces->items().front().asString(), "io.systemd.UserDatabase");
	EXPECT_EQ(error(call1(R"({"method":"org.varlink.service.GetInfo","parameters":{"x":1}})")),
		  "org.varlink.service.InvalidParameter");
}

TEST_F(UserdbService, RefusesUnknownMethods)
{
	Value r = call1(request("io.systemd.UserDatabase.DeleteUser", svc()));
	EXPECT_EQ(error(r), "org.varlink.service.MethodNotFound");
	EXPECT_EQ(*r.find("parameters")->find("method")->asString(), "io.systemd.UserDatabase.DeleteUser");
	EXPECT_EQ(error(call1(request("org.varlink.service.GetInterfaceDescription", "{}"))),
		  "org.varlink.service.MethodNotFound");
	r = call1(request("io.systemd.Machine.List", "{}"));
	EXPECT_EQ(error(r), "org.varlink.service.InterfaceNotFound");
	EXPECT_EQ(*r.find("parameters")->find("interface")->asString(), "io.systemd.Machine");
	EXPECT_EQ(error(call1(request("", "{}"))), "org.varlink.service.InterfaceNotFound");
}

TEST_F(UserdbService, RefusesMessagesThatAreNotCalls)
{
	const char *bad[] = {
		"",
		"{",
		"[]",
		"\"x\"",
		"null",
		"{}",
		R"({"method":5})",
		R"({"parameters":{}})",
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":[]})",
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","more":"yes"})",
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","more":true,"oneway":true})",
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","upgrade":true})",
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","extra":1})",
		R"({"method":"a","method":"b"})",
	};
	for (const char *m : bad)
		EXPECT_EQ(error(call1(m)), "org.xenproject.QemuDm.ProtocolError") << m;

	std::string huge = user(svc("\"userName\":\"" + std::string(70000, 'a') + "\""));
	EXPECT_EQ(error(call1(huge)), "org.xenproject.QemuDm.ProtocolError");
}

TEST_F(UserdbService, StaysSilentOnOnewayCalls)
{
	EXPECT_TRUE(call(user(svc("\"uid\":131077"), ",\"oneway\":true")).empty());
	EXPECT_TRUE(call(request("io.systemd.Nope.X", "{}", ",\"oneway\":true")).empty());
}

namespace {

/* The identity FileAccounts gives of its files: unchanged while they are, and none while a change is fresh. */
TEST(FileAccountsState, ChangesWithTheFilesAndIsWithheldWhileAChangeIsFresh)
{
	test::TempDir tmp("qemu-dm-userdb-state");
	ASSERT_TRUE(tmp) << "could not make a directory below /tmp";
	const std::string passwd = tmp.str() + "/passwd", group = tmp.str() + "/group";
	std::ofstream(passwd) << "xen-qemuuser-range-base:x:131072:131000::/:/usr/sbin/nologin\n";
	std::ofstream(group) << "xen-qemuuser-range-base:x:131000:\n";
	FileAccounts accounts(passwd, group);

	EXPECT_FALSE(accounts.stateId()) << "a file changed within the last second must not be trusted";
	std::this_thread::sleep_for(std::chrono::milliseconds(1100));
	auto first = accounts.stateId();
	ASSERT_TRUE(first);
	EXPECT_EQ(accounts.stateId(), first);

	/* As useradd does: a new file renamed over the old one. */
	std::ofstream(passwd + ".new") << "xen-qemuuser-5:x:4242:4242::/:/usr/sbin/nologin\n";
	ASSERT_EQ(std::rename((passwd + ".new").c_str(), passwd.c_str()), 0);
	EXPECT_FALSE(accounts.stateId());
	std::this_thread::sleep_for(std::chrono::milliseconds(1100));
	auto second = accounts.stateId();
	ASSERT_TRUE(second);
	EXPECT_NE(second, first);

	/* A missing file has an identity of its own. */
	ASSERT_EQ(unlink(group.c_str()), 0);
	auto third = accounts.stateId();
	EXPECT_NE(third, second);
}

} /* namespace */

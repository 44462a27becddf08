/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The io.systemd.UserDatabase varlink service for Xen device-model users,
 * as pure logic: one request message in, the reply messages out. No I/O
 * here except the Accounts lookups; qemu-dm-userdb.cpp does the sockets.
 *
 * Records (docs/userdb.md):
 *   user  xen-qemuuser-<domid>  uid = base uid + domid, gid = the range base
 *         user's primary gid (upstream libxl semantics), locked, nologin
 *   group xen-qemuuser-<domid>  gid = base uid + domid (gid = uid)
 * for domid 1..32751, only while that domain's DM unit qemu-dm@<domid>.service
 * is loaded (stock libxl 4.17 refuses to start a restricted guest whose uid
 * base+domid already has a name), and unless that id or name is owned by any other source,
 * which always wins.
 *
 * Nothing here throws and nothing logs above debug.
 */

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain.h"
#include "json.h"
#include "userdb_accounts.h"

namespace qemudm::userdb {

/* DOMID_FIRST_RESERVED - 1: domids 1..32751 get a user; dom0 does not. */
constexpr std::string_view kDefaultRangeBaseUser = "xen-qemuuser-range-base";

/* Request messages larger than this are refused (ProtocolError). */
constexpr size_t kMaxMessageSize = 64 * 1024;

namespace errors {
constexpr std::string_view NoRecordFound = "io.systemd.UserDatabase.NoRecordFound";
constexpr std::string_view BadService = "io.systemd.UserDatabase.BadService";
constexpr std::string_view ServiceNotAvailable = "io.systemd.UserDatabase.ServiceNotAvailable";
constexpr std::string_view ConflictingRecordFound = "io.systemd.UserDatabase.ConflictingRecordFound";
constexpr std::string_view NonMatchingRecordFound = "io.systemd.UserDatabase.NonMatchingRecordFound";
constexpr std::string_view EnumerationNotSupported = "io.systemd.UserDatabase.EnumerationNotSupported";
constexpr std::string_view InvalidParameter = "org.varlink.service.InvalidParameter";
constexpr std::string_view MethodNotFound = "org.varlink.service.MethodNotFound";
constexpr std::string_view InterfaceNotFound = "org.varlink.service.InterfaceNotFound";
constexpr std::string_view ExpectedMore = "org.varlink.service.ExpectedMore";
/* Ours: the message is not a varlink call at all (bad JSON, too big, ...). */
constexpr std::string_view ProtocolError = "org.xenproject.QemuDm.ProtocolError";
} /* namespace errors */

struct ServiceOptions {
	/* Our name in /run/systemd/userdb/ and the required "service" value. */
	std::string serviceName;
	std::string rangeBaseUser = std::string(kDefaultRangeBaseUser);
	/* Stream all records on enumeration ("more" without a key). Off by
	 * default: `getent passwd` would list 32751 users. */
	bool enumerate = false;
	/* Whether domid's DM unit is loaded; records exist only then. Unset:
	 * every domid of the range (tests of the record logic only). */
	std::function<bool(uint32_t domid)> dmUnitLoaded;
};

/* Names and the domid range: common/domain.h (domidFromUserName, perDomainUserName). */

/* The remaining replies of a call made with "more": true. */
class ReplyStream
{
public:
	virtual ~ReplyStream() = default;
	/* The next serialised reply; std::nullopt when the call is finished. */
	virtual std::optional<std::string> next() = 0;
};

struct Response {
	/* Serialised reply messages, in order, without the trailing NUL. */
	std::vector<std::string> replies;
	/* If set, more replies follow (after `replies`), produced lazily so a
	 * slow reader costs no memory. */
	std::unique_ptr<ReplyStream> stream;
};

class Service
{
public:
	Service(ServiceOptions options, Accounts &accounts);

	const ServiceOptions &options() const { return options_; }

	/* One request, without its NUL terminator. Never fails: every problem
	 * becomes a varlink error reply. A "oneway" call gets no reply. */
	Response handleMessage(std::string_view message);

	/* The error reply for a message we could not even read (too large). */
	static std::string protocolErrorReply(std::string_view reason);

	static std::string errorReply(std::string_view error, json::Value parameters = json::Value::object());

private:
	struct Range {
		uint32_t baseUid;
		uint32_t primaryGid;
	};

	enum class Kind { User, Group };

	struct Query;
	class EnumerationStream;

	Response dispatch(const std::string &method, const json::Value &params, bool more);
	Response getRecord(Kind kind, const json::Value &params, bool more);
	Response getMemberships(const json::Value &params);
	Response getInfo(const json::Value &params);

	/*
	 * What the other sources answered, kept while Accounts::stateId() is
	 * unchanged (then no answer can have changed); dropped when it changes or
	 * the source cannot tell. Errors are never kept. The unit check
	 * (dmUnitLoaded) is not cached: it is one stat per request.
	 */
	struct Cache {
		std::optional<std::string> state;
		std::optional<std::optional<Range>> range;
		std::unordered_map<uint32_t, bool>
		    othersFree; /* domid: none of its ids or names is defined elsewhere */
	};
	/* Called once per request (and per enumerated record), before any lookup. */
	void refreshCache();

	/* nullopt: no usable range (no base user, or base uid/gid 0). */
	Result<std::optional<Range>> loadRange();
	/* Whether none of domid's uid, gid and names is defined by another source. */
	Result<bool> isOurs(const Range &range, uint32_t domid);
	std::optional<uint32_t> domidForId(const Range &range, uint32_t id) const;
	json::Value record(Kind kind, const Range &range, uint32_t domid) const;
	bool matchesFilters(Kind kind, const Query &query, const Range &range, uint32_t domid) const;

	/* Whether the four lookups of isOurs() find none of domid's ids or names. */
	Result<bool> othersFree(uint32_t id, const std::string &name);

	ServiceOptions options_;
	Accounts &accounts_;
	Cache cache_;
};

} /* namespace qemudm::userdb */

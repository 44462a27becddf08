/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "userdb_service.h"

#include <algorithm>
#include <cctype>

#include "build_config.h"
#include "log.h"

namespace qemudm::userdb {

using json::Value;

namespace {

constexpr std::string_view kShell = "/usr/sbin/nologin";
constexpr std::string_view kDisposition = "system";

constexpr std::string_view kUserDatabase = "io.systemd.UserDatabase.";
constexpr std::string_view kVarlinkService = "org.varlink.service.";

/* systemd's uid_is_valid(): neither (uid_t)-1 nor the 16-bit (uid_t)-1. */
bool idIsValid(uint64_t id)
{
	return id != 0 && id < 0xffffffffu && id != 0xffffu;
}

Value invalidParameter(std::string_view name)
{
	return Value::object().set("parameter", Value::string(std::string(name)));
}

std::string reply(Value parameters, bool continues = false)
{
	Value msg = Value::object();
	msg.set("parameters", std::move(parameters));
	if (continues)
		msg.set("continues", Value::boolean(true));
	return msg.serialize();
}

Response single(std::string message)
{
	Response r;
	r.replies.push_back(std::move(message));
	return r;
}

Response errorResponse(std::string_view error, Value parameters = Value::object())
{
	return single(Service::errorReply(error, std::move(parameters)));
}

bool containsCaseless(std::string_view haystack, std::string_view needle)
{
	auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), [](char a, char b) {
		return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
	});
	return it != haystack.end();
}

std::string description(uint32_t domid)
{
	return fmt::format("Xen device model of domain {}", domid);
}

} /* namespace */

std::string Service::errorReply(std::string_view error, Value parameters)
{
	Value msg = Value::object();
	msg.set("error", Value::string(std::string(error)));
	msg.set("parameters", std::move(parameters));
	return msg.serialize();
}

std::string Service::protocolErrorReply(std::string_view reason)
{
	return errorReply(errors::ProtocolError, Value::object().set("reason", Value::string(std::string(reason))));
}

/* The parsed, validated parameters of GetUserRecord/GetGroupRecord. */
struct Service::Query {
	std::optional<uint32_t> id;
	std::optional<std::string> name;
	std::vector<std::string> fuzzyNames;
	std::optional<std::vector<std::string>> dispositionMask;
	std::optional<uint32_t> idMin;
	std::optional<uint32_t> idMax;

	bool hasFilters() const { return !fuzzyNames.empty() || dispositionMask || idMin || idMax; }
};

/*
 * Enumeration with "more": every record of the range that passes the
 * filters, one per reply, each but the last with "continues": true. One
 * record of look-ahead tells which one is the last.
 */
class Service::EnumerationStream final : public ReplyStream
{
public:
	EnumerationStream(Service &service, Kind kind, Query query, Range range)
	    : service_(service), kind_(kind), query_(std::move(query)), range_(range)
	{
	}

	/* Find the first record; false if there is none. */
	bool prime()
	{
		pending_ = findNext();
		return pending_.has_value();
	}

	std::optional<std::string> next() override
	{
		if (!pending_)
			return std::nullopt;
		Item current = std::move(*pending_);
		pending_ = findNext();
		if (current.error)
			return errorReply(errors::ServiceNotAvailable);
		return reply(std::move(current.parameters), pending_.has_value());
	}

private:
	struct Item {
		bool error = false;
		Value parameters;
	};

	std::optional<Item> findNext();

	Service &service_;
	Kind kind_;
	Query query_;
	Range range_;
	uint32_t cursor_ = 1;
	bool failed_ = false;
	std::optional<Item> pending_;
};

Service::Service(ServiceOptions options, Accounts &accounts) : options_(std::move(options)), accounts_(accounts)
{
}

void Service::refreshCache()
{
	auto state = accounts_.stateId();
	if (state && cache_.state == state)
		return;
	cache_.state = std::move(state);
	cache_.range.reset();
	cache_.othersFree.clear();
}

Result<std::optional<Service::Range>> Service::loadRange()
{
	if (cache_.state && cache_.range)
		return *cache_.range;
	auto range = [&]() -> Result<std::optional<Range>> {
		auto base = accounts_.userByName(options_.rangeBaseUser);
		if (!base)
			return base.error();
		if (!*base) {
			log::debug("Range base user {} does not exist, answering no records.", options_.rangeBaseUser);
			return std::optional<Range>();
		}
		const Account &b = **base;
		if (b.id == 0 || b.gid == 0 || !idIsValid(b.id)) {
			log::debug("Range base user {} has uid {} gid {}, refusing to serve its range.",
				   options_.rangeBaseUser, b.id, b.gid);
			return std::optional<Range>();
		}
		return std::optional<Range>(Range{ b.id, b.gid });
	}();
	if (range && cache_.state)
		cache_.range = *range;
	return range;
}

std::optional<uint32_t> Service::domidForId(const Range &range, uint32_t id) const
{
	if (id <= range.baseUid)
		return std::nullopt;
	uint32_t domid = id - range.baseUid;
	if (domid > kMaxDomid)
		return std::nullopt;
	return domid;
}

Result<bool> Service::isOurs(const Range &range, uint32_t domid)
{
	uint64_t id = static_cast<uint64_t>(range.baseUid) + domid;
	if (domid < 1 || domid > kMaxDomid || !idIsValid(id))
		return false;
	/* First, and cheap (one stat): no unit, no user. */
	if (options_.dmUnitLoaded && !options_.dmUnitLoaded(domid)) {
		log::debug("No device model unit is loaded for domain {}, not answering for its user.", domid);
		return false;
	}

	const uint32_t id32 = static_cast<uint32_t>(id);
	if (cache_.state) {
		if (auto it = cache_.othersFree.find(domid); it != cache_.othersFree.end())
			return it->second;
	}
	auto others = othersFree(id32, perDomainUserName(domid));
	if (others && cache_.state)
		cache_.othersFree.emplace(domid, *others);
	return others;
}

Result<bool> Service::othersFree(uint32_t id32, const std::string &name)
{
	/*
	 * A user and its group come as a pair: if any of uid, gid, user name or
	 * group name is defined by another source, we answer for neither.
	 */
	const uint64_t id = id32;
	const std::pair<std::string_view, Result<std::optional<Account>>> checks[] = {
		{ "uid", accounts_.userById(id32) },
		{ "user name", accounts_.userByName(name) },
		{ "gid", accounts_.groupById(id32) },
		{ "group name", accounts_.groupByName(name) },
	};
	for (const auto &[what, found] : checks) {
		if (!found)
			return found.error();
		if (*found) {
			log::debug("The {} of {} ({}) is defined elsewhere as {}:{}, not answering for it.", what, name,
				   id, (*found)->name, (*found)->id);
			return false;
		}
	}
	return true;
}

Value Service::record(Kind kind, const Range &range, uint32_t domid) const
{
	uint32_t id = range.baseUid + domid;
	Value r = Value::object();
	if (kind == Kind::User) {
		r.set("userName", Value::string(perDomainUserName(domid)));
		r.set("uid", Value::unsignedInteger(id));
		r.set("gid", Value::unsignedInteger(range.primaryGid));
		r.set("realName", Value::string(description(domid)));
		r.set("homeDirectory", Value::string("/"));
		r.set("shell", Value::string(std::string(kShell)));
		r.set("locked", Value::boolean(true));
	} else {
		r.set("groupName", Value::string(perDomainUserName(domid)));
		r.set("gid", Value::unsignedInteger(id));
		r.set("description", Value::string(description(domid)));
	}
	r.set("disposition", Value::string(std::string(kDisposition)));
	r.set("service", Value::string(options_.serviceName));

	return Value::object().set("record", std::move(r)).set("incomplete", Value::boolean(false));
}

bool Service::matchesFilters(Kind kind, const Query &query, const Range &range, uint32_t domid) const
{
	(void)kind;
	uint32_t id = range.baseUid + domid;
	if (query.idMin && id < *query.idMin)
		return false;
	if (query.idMax && id > *query.idMax)
		return false;
	if (query.dispositionMask && std::find(query.dispositionMask->begin(), query.dispositionMask->end(),
					       kDisposition) == query.dispositionMask->end())
		return false;
	if (!query.fuzzyNames.empty()) {
		std::string name = perDomainUserName(domid);
		std::string desc = description(domid);
		bool any = std::any_of(query.fuzzyNames.begin(), query.fuzzyNames.end(), [&](const std::string &f) {
			return containsCaseless(name, f) || containsCaseless(desc, f);
		});
		if (!any)
			return false;
	}
	return true;
}

std::optional<Service::EnumerationStream::Item> Service::EnumerationStream::findNext()
{
	if (failed_)
		return std::nullopt;
	service_.refreshCache();
	while (cursor_ <= kMaxDomid) {
		uint32_t domid = cursor_++;
		if (!service_.matchesFilters(kind_, query_, range_, domid))
			continue;
		auto ours = service_.isOurs(range_, domid);
		if (!ours) {
			log::debug("Enumeration stopped: {}", ours.error().message());
			failed_ = true;
			return Item{ true, Value() };
		}
		if (*ours)
			return Item{ false, service_.record(kind_, range_, domid) };
	}
	return std::nullopt;
}

Response Service::getRecord(Kind kind, const Value &params, bool more)
{
	const bool user = kind == Kind::User;
	const std::string_view idKey = user ? "uid" : "gid";
	const std::string_view nameKey = user ? "userName" : "groupName";
	const std::string_view minKey = user ? "uidMin" : "gidMin";
	const std::string_view maxKey = user ? "uidMax" : "gidMax";

	Query query;
	const std::string *service = nullptr;

	for (const auto &[key, v] : params.members()) {
		if (key == "service") {
			if (!(service = v.asString()))
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
		} else if (key == idKey || key == minKey || key == maxKey) {
			if (v.isNull())
				continue;
			auto id = v.asUint32();
			if (!id)
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
			(key == idKey ? query.id : key == minKey ? query.idMin : query.idMax) = *id;
		} else if (key == nameKey) {
			if (v.isNull())
				continue;
			if (!v.asString())
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
			query.name = *v.asString();
		} else if (key == "fuzzyNames" || key == "dispositionMask") {
			if (v.isNull())
				continue;
			if (!v.isArray())
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
			std::vector<std::string> list;
			for (const auto &item : v.items()) {
				if (!item.asString())
					return errorResponse(errors::InvalidParameter, invalidParameter(key));
				list.push_back(*item.asString());
			}
			if (key == "fuzzyNames")
				query.fuzzyNames = std::move(list);
			else
				query.dispositionMask = std::move(list);
		} else {
			return errorResponse(errors::InvalidParameter, invalidParameter(key));
		}
	}

	if (!service || *service != options_.serviceName)
		return errorResponse(errors::BadService);

	const bool enumeration = !query.id && !query.name;
	if (enumeration) {
		if (!options_.enumerate)
			return errorResponse(errors::EnumerationNotSupported);
		if (!more)
			return errorResponse(errors::ExpectedMore);
	}

	refreshCache();
	auto range = loadRange();
	if (!range) {
		log::debug("Lookup failed: {}", range.error().message());
		return errorResponse(errors::ServiceNotAvailable);
	}
	if (!*range)
		return errorResponse(errors::NoRecordFound);

	if (enumeration) {
		auto stream = std::make_unique<EnumerationStream>(*this, kind, std::move(query), **range);
		if (!stream->prime())
			return errorResponse(errors::NoRecordFound);
		Response r;
		r.stream = std::move(stream);
		return r;
	}

	/* Primary keys: each one names at most one domid. */
	std::optional<uint32_t> byId, byName;
	if (query.id)
		byId = domidForId(**range, *query.id);
	if (query.name)
		byName = domidFromUserName(*query.name);
	for (auto *d : { &byId, &byName }) {
		if (!*d)
			continue;
		auto ours = isOurs(**range, **d);
		if (!ours) {
			log::debug("Lookup failed: {}", ours.error().message());
			return errorResponse(errors::ServiceNotAvailable);
		}
		if (!*ours)
			d->reset();
	}

	uint32_t domid;
	if (query.id && query.name) {
		if (!byId && !byName)
			return errorResponse(errors::NoRecordFound);
		if (byId != byName)
			return errorResponse(errors::ConflictingRecordFound);
		domid = *byId;
	} else if (byId || byName) {
		domid = byId ? *byId : *byName;
	} else {
		return errorResponse(errors::NoRecordFound);
	}

	if (query.hasFilters() && !matchesFilters(kind, query, **range, domid))
		return errorResponse(errors::NonMatchingRecordFound);

	return single(reply(record(kind, **range, domid)));
}

Response Service::getMemberships(const Value &params)
{
	const std::string *service = nullptr;
	for (const auto &[key, v] : params.members()) {
		if (key == "service") {
			if (!(service = v.asString()))
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
		} else if (key == "userName" || key == "groupName") {
			if (!v.isNull() && !v.isString())
				return errorResponse(errors::InvalidParameter, invalidParameter(key));
		} else {
			return errorResponse(errors::InvalidParameter, invalidParameter(key));
		}
	}
	if (!service || *service != options_.serviceName)
		return errorResponse(errors::BadService);

	/* No supplementary memberships: a DM runs with its primary group only. */
	return errorResponse(errors::NoRecordFound);
}

Response Service::getInfo(const Value &params)
{
	if (!params.members().empty())
		return errorResponse(errors::InvalidParameter, invalidParameter(params.members().front().first));

	Value interfaces = Value::array();
	interfaces.append(Value::string("io.systemd.UserDatabase"));
	interfaces.append(Value::string("org.varlink.service"));

	Value info = Value::object();
	info.set("vendor", Value::string("qemu-dm"));
	info.set("product", Value::string("qemu-dm-userdb"));
	info.set("version", Value::string(PROJECT_VERSION));
	info.set("url", Value::string("https://xenbits.xen.org/docs/unstable/features/qemu-deprivilege.html"));
	info.set("interfaces", std::move(interfaces));
	return single(reply(std::move(info)));
}

Response Service::dispatch(const std::string &method, const Value &params, bool more)
{
	if (method == "io.systemd.UserDatabase.GetUserRecord")
		return getRecord(Kind::User, params, more);
	if (method == "io.systemd.UserDatabase.GetGroupRecord")
		return getRecord(Kind::Group, params, more);
	if (method == "io.systemd.UserDatabase.GetMemberships")
		return getMemberships(params);
	if (method == "org.varlink.service.GetInfo")
		return getInfo(params);

	if (method.starts_with(kUserDatabase) || method.starts_with(kVarlinkService))
		return errorResponse(errors::MethodNotFound, Value::object().set("method", Value::string(method)));

	std::string_view iface(method);
	auto dot = iface.rfind('.');
	iface = dot == std::string_view::npos ? std::string_view() : iface.substr(0, dot);
	return errorResponse(errors::InterfaceNotFound,
			     Value::object().set("interface", Value::string(std::string(iface))));
}

Response Service::handleMessage(std::string_view message)
{
	if (message.size() > kMaxMessageSize)
		return single(protocolErrorReply("message too large"));

	auto parsed = json::parse(message, { kMaxMessageSize, 16 });
	if (!parsed) {
		log::debug("Refusing request: {}", parsed.error().message());
		return single(protocolErrorReply("malformed JSON"));
	}
	const Value &msg = *parsed;
	if (!msg.isObject())
		return single(protocolErrorReply("message is not an object"));

	const std::string *method = nullptr;
	const Value *params = nullptr;
	bool more = false, oneway = false;
	for (const auto &[key, v] : msg.members()) {
		if (key == "method") {
			if (!(method = v.asString()))
				return single(protocolErrorReply("method is not a string"));
		} else if (key == "parameters") {
			if (!v.isObject())
				return single(protocolErrorReply("parameters is not an object"));
			params = &v;
		} else if (key == "more" || key == "oneway" || key == "upgrade") {
			auto b = v.asBool();
			if (!b)
				return single(protocolErrorReply(fmt::format("{} is not a boolean", key)));
			if (key == "more")
				more = *b;
			else if (key == "oneway")
				oneway = *b;
			else if (*b)
				return single(protocolErrorReply("upgrade is not supported"));
		} else {
			return single(protocolErrorReply("unknown message field"));
		}
	}
	if (!method)
		return single(protocolErrorReply("method missing"));
	if (more && oneway)
		return single(protocolErrorReply("more and oneway are exclusive"));

	static const Value empty = Value::object();
	Response r = dispatch(*method, params ? *params : empty, more);
	if (oneway)
		return Response{};
	return r;
}

} /* namespace qemudm::userdb */

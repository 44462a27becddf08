/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small, strict JSON value, parser and writer: enough for varlink
 * (io.systemd.UserDatabase) without a new dependency. libsystemd 252 does
 * not export its JSON code.
 *
 * Strict means RFC 8259 and nothing more: no comments, no trailing commas,
 * no NaN, no leading zeros, no raw control characters in strings, valid
 * UTF-8 only, no lone surrogates, no duplicate object keys. The parser is
 * bounded: input size and nesting depth are capped (ParseLimits), and it
 * never recurses deeper than maxDepth.
 *
 * Numbers keep their integer value exactly when they have one (no fraction,
 * no exponent, fits in 64 bits), so a uid is never rounded through a
 * double: asUint32() on "4294967296", "-1" or "5.0" fails.
 */

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.h"

namespace qemudm::json {

enum class Type {
	Null,
	Bool,
	Number,
	String,
	Array,
	Object,
};

std::string_view typeName(Type type);

class Value final
{
public:
	using Member = std::pair<std::string, Value>;

	Value() = default; /* null */

	static Value null() { return Value(); }
	static Value boolean(bool b);
	static Value integer(int64_t i);
	static Value unsignedInteger(uint64_t u);
	static Value number(double d);
	static Value string(std::string s);
	static Value array();
	static Value object();

	Type type() const { return type_; }
	bool isNull() const { return type_ == Type::Null; }
	bool isBool() const { return type_ == Type::Bool; }
	bool isNumber() const { return type_ == Type::Number; }
	bool isString() const { return type_ == Type::String; }
	bool isArray() const { return type_ == Type::Array; }
	bool isObject() const { return type_ == Type::Object; }

	/* Typed accessors: std::nullopt when the type or range does not fit. */
	std::optional<bool> asBool() const;
	std::optional<int64_t> asInt64() const;
	std::optional<uint64_t> asUint64() const;
	std::optional<uint32_t> asUint32() const;
	std::optional<double> asDouble() const;
	const std::string *asString() const;

	/* Arrays. */
	const std::vector<Value> &items() const { return items_; }
	Value &append(Value v);

	/* Objects: members keep insertion order; keys are unique. */
	const std::vector<Member> &members() const { return members_; }
	const Value *find(std::string_view key) const;
	/* Replaces the value of an existing key. Returns *this for chaining. */
	Value &set(std::string_view key, Value v);

	/* Compact serialisation (no whitespace). */
	std::string serialize() const;
	void serializeTo(std::string &out) const;

	bool operator==(const Value &other) const;

private:
	Type type_ = Type::Null;
	bool bool_ = false;

	/* Number: integral_ means the exact value is (negative_ ? -mag_ : mag_). */
	bool integral_ = false;
	bool negative_ = false;
	uint64_t mag_ = 0;
	double double_ = 0.0;

	std::string string_;
	std::vector<Value> items_;
	std::vector<Member> members_;

	friend class Parser;
};

struct ParseLimits {
	size_t maxSize = 64 * 1024;
	unsigned maxDepth = 32;
};

/* Parse exactly one JSON value (surrounding whitespace allowed). */
Result<Value> parse(std::string_view text, const ParseLimits &limits = {});

/* Append s as a quoted JSON string to out. */
void quoteString(std::string &out, std::string_view s);

} /* namespace qemudm::json */

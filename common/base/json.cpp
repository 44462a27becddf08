/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "json.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

namespace qemudm::json {

std::string_view typeName(Type type)
{
	switch (type) {
	case Type::Null:
		return "null";
	case Type::Bool:
		return "boolean";
	case Type::Number:
		return "number";
	case Type::String:
		return "string";
	case Type::Array:
		return "array";
	case Type::Object:
		return "object";
	}
	return "unknown";
}

Value Value::boolean(bool b)
{
	Value v;
	v.type_ = Type::Bool;
	v.bool_ = b;
	return v;
}

Value Value::integer(int64_t i)
{
	Value v;
	v.type_ = Type::Number;
	v.integral_ = true;
	v.negative_ = i < 0;
	/* Two's complement safe negation, also for INT64_MIN. */
	v.mag_ = i < 0 ? static_cast<uint64_t>(0) - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
	v.double_ = static_cast<double>(i);
	return v;
}

Value Value::unsignedInteger(uint64_t u)
{
	Value v;
	v.type_ = Type::Number;
	v.integral_ = true;
	v.mag_ = u;
	v.double_ = static_cast<double>(u);
	return v;
}

Value Value::number(double d)
{
	Value v;
	v.type_ = Type::Number;
	v.double_ = d;
	return v;
}

Value Value::string(std::string s)
{
	Value v;
	v.type_ = Type::String;
	v.string_ = std::move(s);
	return v;
}

Value Value::array()
{
	Value v;
	v.type_ = Type::Array;
	return v;
}

Value Value::object()
{
	Value v;
	v.type_ = Type::Object;
	return v;
}

std::optional<bool> Value::asBool() const
{
	if (type_ != Type::Bool)
		return std::nullopt;
	return bool_;
}

std::optional<int64_t> Value::asInt64() const
{
	if (type_ != Type::Number || !integral_)
		return std::nullopt;
	if (!negative_) {
		if (mag_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
			return std::nullopt;
		return static_cast<int64_t>(mag_);
	}
	if (mag_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1)
		return std::nullopt;
	return static_cast<int64_t>(static_cast<uint64_t>(0) - mag_);
}

std::optional<uint64_t> Value::asUint64() const
{
	if (type_ != Type::Number || !integral_)
		return std::nullopt;
	if (negative_ && mag_ != 0)
		return std::nullopt;
	return mag_;
}

std::optional<uint32_t> Value::asUint32() const
{
	auto u = asUint64();
	if (!u || *u > std::numeric_limits<uint32_t>::max())
		return std::nullopt;
	return static_cast<uint32_t>(*u);
}

std::optional<double> Value::asDouble() const
{
	if (type_ != Type::Number)
		return std::nullopt;
	return double_;
}

const std::string *Value::asString() const
{
	return type_ == Type::String ? &string_ : nullptr;
}

Value &Value::append(Value v)
{
	items_.push_back(std::move(v));
	return items_.back();
}

const Value *Value::find(std::string_view key) const
{
	for (const auto &[k, v] : members_) {
		if (k == key)
			return &v;
	}
	return nullptr;
}

Value &Value::set(std::string_view key, Value v)
{
	for (auto &[k, old] : members_) {
		if (k == key) {
			old = std::move(v);
			return *this;
		}
	}
	members_.emplace_back(std::string(key), std::move(v));
	return *this;
}

bool Value::operator==(const Value &other) const
{
	if (type_ != other.type_)
		return false;
	switch (type_) {
	case Type::Null:
		return true;
	case Type::Bool:
		return bool_ == other.bool_;
	case Type::Number:
		if (integral_ && other.integral_)
			return mag_ == other.mag_ && (negative_ == other.negative_ || mag_ == 0);
		return double_ == other.double_;
	case Type::String:
		return string_ == other.string_;
	case Type::Array:
		return items_ == other.items_;
	case Type::Object:
		return members_ == other.members_;
	}
	return false;
}

void quoteString(std::string &out, std::string_view s)
{
	out.push_back('"');
	for (char c : s) {
		unsigned char u = static_cast<unsigned char>(c);
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\b':
			out += "\\b";
			break;
		case '\f':
			out += "\\f";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\r':
			out += "\\r";
			break;
		case '\t':
			out += "\\t";
			break;
		default:
			if (u < 0x20 || u == 0x7f)
				out += fmt::format("\\u{:04x}", u);
			else
				out.push_back(c);
		}
	}
	out.push_back('"');
}

void Value::serializeTo(std::string &out) const
{
	switch (type_) {
	case Type::Null:
		out += "null";
		break;
	case Type::Bool:
		out += bool_ ? "true" : "false";
		break;
	case Type::Number:
		if (integral_) {
			if (negative_ && mag_ != 0)
				out.push_back('-');
			out += fmt::format("{}", mag_);
		} else if (std::isfinite(double_)) {
			out += fmt::format("{}", double_);
		} else {
			out += "null"; /* JSON has no NaN or infinity */
		}
		break;
	case Type::String:
		quoteString(out, string_);
		break;
	case Type::Array: {
		out.push_back('[');
		bool first = true;
		for (const auto &v : items_) {
			if (!first)
				out.push_back(',');
			first = false;
			v.serializeTo(out);
		}
		out.push_back(']');
		break;
	}
	case Type::Object: {
		out.push_back('{');
		bool first = true;
		for (const auto &[k, v] : members_) {
			if (!first)
				out.push_back(',');
			first = false;
			quoteString(out, k);
			out.push_back(':');
			v.serializeTo(out);
		}
		out.push_back('}');
		break;
	}
	}
}

std::string Value::serialize() const
{
	std::string out;
	serializeTo(out);
	return out;
}

/*
 * Recursive descent with an explicit depth bound; every error carries the
 * byte offset so a hostile message can be diagnosed from the debug log.
 */
class Parser
{
public:
	Parser(std::string_view text, const ParseLimits &limits) : text_(text), limits_(limits) {}

	Result<Value> parseDocument()
	{
		if (text_.size() > limits_.maxSize)
			return makeError(EMSGSIZE, "JSON text of {} bytes exceeds the limit of {} bytes", text_.size(),
					 limits_.maxSize);
		Value v;
		if (!parseValue(v, 0))
			return failure();
		skipWhitespace();
		if (pos_ != text_.size()) {
			fail("trailing data after JSON value");
			return failure();
		}
		return v;
	}

private:
	std::string_view text_;
	ParseLimits limits_;
	size_t pos_ = 0;
	std::string error_;
	size_t errorPos_ = 0;

	Error failure() const { return makeError(EBADMSG, "Invalid JSON at offset {}: {}", errorPos_, error_); }

	bool fail(std::string_view what)
	{
		if (error_.empty()) {
			error_ = what;
			errorPos_ = pos_;
		}
		return false;
	}

	bool atEnd() const { return pos_ >= text_.size(); }
	char peek() const { return text_[pos_]; }

	void skipWhitespace()
	{
		while (!atEnd()) {
			char c = peek();
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
				break;
			pos_++;
		}
	}

	bool expectLiteral(std::string_view lit)
	{
		if (text_.substr(pos_, lit.size()) != lit)
			return fail("invalid literal");
		pos_ += lit.size();
		return true;
	}

	bool parseValue(Value &out, unsigned depth)
	{
		skipWhitespace();
		if (atEnd())
			return fail("unexpected end of input");

		switch (peek()) {
		case '{':
			return parseObject(out, depth + 1);
		case '[':
			return parseArray(out, depth + 1);
		case '"':
			out.type_ = Type::String;
			return parseString(out.string_);
		case 't':
			out = Value::boolean(true);
			return expectLiteral("true");
		case 'f':
			out = Value::boolean(false);
			return expectLiteral("false");
		case 'n':
			out = Value();
			return expectLiteral("null");
		default:
			return parseNumber(out);
		}
	}

	bool parseObject(Value &out, unsigned depth)
	{
		if (depth > limits_.maxDepth)
			return fail("nesting too deep");
		out = Value::object();
		pos_++; /* '{' */
		skipWhitespace();
		if (!atEnd() && peek() == '}') {
			pos_++;
			return true;
		}
		for (;;) {
			skipWhitespace();
			if (atEnd() || peek() != '"')
				return fail("expected object key");
			std::string key;
			if (!parseString(key))
				return false;
			if (out.find(key))
				return fail("duplicate object key");
			skipWhitespace();
			if (atEnd() || peek() != ':')
				return fail("expected ':'");
			pos_++;
			Value v;
			if (!parseValue(v, depth))
				return false;
			out.members_.emplace_back(std::move(key), std::move(v));
			skipWhitespace();
			if (atEnd())
				return fail("unexpected end of input in object");
			if (peek() == ',') {
				pos_++;
				continue;
			}
			if (peek() == '}') {
				pos_++;
				return true;
			}
			return fail("expected ',' or '}'");
		}
	}

	bool parseArray(Value &out, unsigned depth)
	{
		if (depth > limits_.maxDepth)
			return fail("nesting too deep");
		out = Value::array();
		pos_++; /* '[' */
		skipWhitespace();
		if (!atEnd() && peek() == ']') {
			pos_++;
			return true;
		}
		for (;;) {
			Value v;
			if (!parseValue(v, depth))
				return false;
			out.items_.push_back(std::move(v));
			skipWhitespace();
			if (atEnd())
				return fail("unexpected end of input in array");
			if (peek() == ',') {
				pos_++;
				continue;
			}
			if (peek() == ']') {
				pos_++;
				return true;
			}
			return fail("expected ',' or ']'");
		}
	}

	bool parseHex4(uint32_t &ret)
	{
		if (text_.size() - pos_ < 4)
			return fail("truncated \\u escape");
		uint32_t v = 0;
		for (int i = 0; i < 4; i++) {
			char c = text_[pos_++];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= static_cast<uint32_t>(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= static_cast<uint32_t>(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= static_cast<uint32_t>(c - 'A' + 10);
			else
				return fail("invalid hex digit in \\u escape");
		}
		ret = v;
		return true;
	}

	static void appendUtf8(std::string &out, uint32_t cp)
	{
		if (cp < 0x80) {
			out.push_back(static_cast<char>(cp));
		} else if (cp < 0x800) {
			out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
		} else if (cp < 0x10000) {
			out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
		} else {
			out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
		}
	}

	bool parseEscape(std::string &out)
	{
		if (atEnd())
			return fail("truncated escape");
		char c = text_[pos_++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			out.push_back(c);
			return true;
		case 'b':
			out.push_back('\b');
			return true;
		case 'f':
			out.push_back('\f');
			return true;
		case 'n':
			out.push_back('\n');
			return true;
		case 'r':
			out.push_back('\r');
			return true;
		case 't':
			out.push_back('\t');
			return true;
		case 'u':
			break;
		default:
			return fail("invalid escape");
		}

		uint32_t cp;
		if (!parseHex4(cp))
			return false;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail("lone low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (text_.substr(pos_, 2) != "\\u")
				return fail("lone high surrogate");
			pos_ += 2;
			uint32_t low;
			if (!parseHex4(low))
				return false;
			if (low < 0xdc00 || low > 0xdfff)
				return fail("invalid surrogate pair");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
		}
		appendUtf8(out, cp);
		return true;
	}

	/* Validate one UTF-8 sequence starting at pos_ and copy it. */
	bool copyUtf8(std::string &out)
	{
		unsigned char c = static_cast<unsigned char>(text_[pos_]);
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			out.push_back(static_cast<char>(c));
			pos_++;
			return true;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return fail("invalid UTF-8");
		}
		if (text_.size() - pos_ < len)
			return fail("truncated UTF-8");
		for (size_t i = 1; i < len; i++) {
			unsigned char cc = static_cast<unsigned char>(text_[pos_ + i]);
			if ((cc & 0xc0) != 0x80)
				return fail("invalid UTF-8");
			cp = (cp << 6) | (cc & 0x3f);
		}
		static constexpr uint32_t minimum[] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < minimum[len])
			return fail("overlong UTF-8");
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail("invalid code point in UTF-8");
		out.append(text_.substr(pos_, len));
		pos_ += len;
		return true;
	}

	bool parseString(std::string &out)
	{
		pos_++; /* opening quote */
		for (;;) {
			if (atEnd())
				return fail("unterminated string");
			char c = peek();
			if (c == '"') {
				pos_++;
				return true;
			}
			if (c == '\\') {
				pos_++;
				if (!parseEscape(out))
					return false;
				continue;
			}
			if (static_cast<unsigned char>(c) < 0x20)
				return fail("control character in string");
			if (!copyUtf8(out))
				return false;
		}
	}

	static bool isDigit(char c) { return c >= '0' && c <= '9'; }

	bool parseNumber(Value &out)
	{
		size_t start = pos_;
		bool negative = false;
		if (peek() == '-') {
			negative = true;
			pos_++;
		}
		if (atEnd() || !isDigit(peek()))
			return fail("invalid value");

		bool integral = true;
		bool overflow = false;
		uint64_t mag = 0;
		if (peek() == '0') {
			pos_++;
			if (!atEnd() && isDigit(peek()))
				return fail("leading zero in number");
		} else {
			while (!atEnd() && isDigit(peek())) {
				uint64_t d = static_cast<uint64_t>(peek() - '0');
				if (mag > (std::numeric_limits<uint64_t>::max() - d) / 10)
					overflow = true;
				else
					mag = mag * 10 + d;
				pos_++;
			}
		}
		if (!atEnd() && peek() == '.') {
			integral = false;
			pos_++;
			if (atEnd() || !isDigit(peek()))
				return fail("expected digit after '.'");
			while (!atEnd() && isDigit(peek()))
				pos_++;
		}
		if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
			integral = false;
			pos_++;
			if (!atEnd() && (peek() == '+' || peek() == '-'))
				pos_++;
			if (atEnd() || !isDigit(peek()))
				return fail("expected digit in exponent");
			while (!atEnd() && isDigit(peek()))
				pos_++;
		}

		/* strtod needs a NUL-terminated copy; numbers are short. */
		std::string lexeme(text_.substr(start, pos_ - start));
		out = Value();
		out.type_ = Type::Number;
		out.double_ = std::strtod(lexeme.c_str(), nullptr);
		out.integral_ = integral && !overflow;
		out.negative_ = negative;
		out.mag_ = out.integral_ ? mag : 0;
		return true;
	}
};

Result<Value> parse(std::string_view text, const ParseLimits &limits)
{
	Parser parser(text, limits);
	return parser.parseDocument();
}

} /* namespace qemudm::json */

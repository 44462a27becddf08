/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <string>

#include "json.h"

using namespace qemudm;
using json::Value;

namespace {

Value parseOk(std::string_view text)
{
	auto r = json::parse(text);
	EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message());
	return r.ok() ? *r : Value();
}

} /* namespace */

TEST(JsonParse, ReadsEveryValueType)
{
	Value v =
	    parseOk(R"( {"a": null, "b": true, "c": false, "d": -12, "e": 1.5e3, "f": "x", "g": [1, [2]], "h": {}} )");
	ASSERT_TRUE(v.isObject());
	EXPECT_TRUE(v.find("a")->isNull());
	EXPECT_EQ(v.find("b")->asBool(), true);
	EXPECT_EQ(v.find("c")->asBool(), false);
	EXPECT_EQ(v.find("d")->asInt64(), -12);
	EXPECT_EQ(v.find("e")->asDouble(), 1500.0);
	EXPECT_EQ(*v.find("f")->asString(), "x");
	EXPECT_EQ(v.find("g")->items().size(), 2u);
	EXPECT_TRUE(v.find("h")->isObject());
	EXPECT_EQ(v.find("zz"), nullptr);
}

TEST(JsonParse, KeepsIntegersExact)
{
	EXPECT_EQ(parseOk("18446744073709551615").asUint64(), UINT64_MAX);
	EXPECT_EQ(parseOk("-9223372036854775808").asInt64(), INT64_MIN);
	EXPECT_EQ(parseOk("4294967295").asUint32(), UINT32_MAX);
	EXPECT_FALSE(parseOk("4294967296").asUint32());
	EXPECT_FALSE(parseOk("18446744073709551616").asUint64()); /* overflow: not an integer */
	EXPECT_FALSE(parseOk("-1").asUint64());
	EXPECT_FALSE(parseOk("5.0").asUint32());
	EXPECT_FALSE(parseOk("5e0").asUint32());
	EXPECT_EQ(parseOk("-0").asUint32(), 0u);
	EXPECT_FALSE(parseOk("true").asUint32());
}

TEST(JsonParse, DecodesEscapes)
{
	EXPECT_EQ(*parseOk(R"("a\"b\\c\/d\b\f\n\r\t")").asString(), "a\"b\\c/d\b\f\n\r\t");
	EXPECT_EQ(*parseOk(R"("\u00e9\u20AC")").asString(), "\xc3\xa9\xe2\x82\xac");
	EXPECT_EQ(*parseOk(R"("\ud83d\ude00")").asString(), "\xf0\x9f\x98\x80");
	EXPECT_EQ(parseOk(R"("\u0000")").asString()->size(), 1u);
	EXPECT_EQ(*parseOk("\"\xc3\xa9\"").asString(), "\xc3\xa9");
}

TEST(JsonParse, RefusesMalformedInput)
{
	const char *bad[] = {
		"",
		" ",
		"{",
		"}",
		"[",
		"[1,]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"{'a':1}",
		"01",
		"-",
		"1.",
		".5",
		"1e",
		"+1",
		"NaN",
		"Infinity",
		"tru",
		"nul",
		"\"abc",
		"\"\\x\"",
		"\"\\u12\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"\"\x01\"",
		"\"\xff\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"\"\xe2\x82\"",
		"1 2",
		"{} x",
		"/* c */ 1",
		"{\"a\":1,\"a\":2}",
		"[1]]",
	};
	for (const char *text : bad) {
		auto r = json::parse(text);
		EXPECT_FALSE(r.ok()) << "accepted: " << text;
		if (!r.ok()) {
			EXPECT_EQ(r.error().code(), EBADMSG) << text;
		}
	}
}

TEST(JsonParse, BoundsDepthAndSize)
{
	std::string deep(40, '[');
	deep += std::string(40, ']');
	EXPECT_FALSE(json::parse(deep).ok());
	EXPECT_TRUE(json::parse(deep, { 1024, 64 }).ok());

	std::string huge(100000, '[');
	EXPECT_FALSE(json::parse(huge, { 1 << 20, 32 }).ok()); /* no stack overflow */

	auto r = json::parse(std::string(70000, ' ') + "1");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EMSGSIZE);
}

TEST(JsonWrite, SerialisesCompactlyAndEscapes)
{
	Value v = Value::object();
	v.set("s", Value::string("q\"\\\n\x01\x7f/"));
	v.set("i", Value::integer(-5));
	v.set("u", Value::unsignedInteger(UINT64_MAX));
	v.set("b", Value::boolean(true));
	v.set("n", Value::null());
	Value a = Value::array();
	a.append(Value::number(0.5));
	v.set("a", std::move(a));
	EXPECT_EQ(v.serialize(),
		  R"({"s":"q\"\\\n\u0001\u007f/","i":-5,"u":18446744073709551615,"b":true,"n":null,"a":[0.5]})");
	v.set("i", Value::integer(7));
	EXPECT_EQ(*v.find("i")->asInt64(), 7);
	EXPECT_EQ(v.members().size(), 6u);
}

TEST(JsonWrite, RoundTrips)
{
	const char *docs[] = {
		R"({"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"uid":131077,"service":"x"},"more":true})",
		R"([null,true,false,0,-1,"\u0000","é😀",{"a":[]}])",
	};
	for (const char *d : docs) {
		Value v = parseOk(d);
		EXPECT_EQ(parseOk(v.serialize()), v) << d;
	}
}

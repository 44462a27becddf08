/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Test support: a StartTransientUnit property array built on a bus that
 * never talks, read back as (name, signature, value rendered as text)
 * entries, so a test can assert exactly what a serialiser appended.
 */

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include "c_ptr.h"
#include "unique_fd.h"

namespace qemudm::test {

/* Never flushed: the dummy bus below never finishes authenticating. */
using DummyBusPtr = CPtr<sd_bus, sd_bus_close_unref>;
using DummyMessagePtr = CPtr<sd_bus_message, sd_bus_message_unref>;

/* One "(sv)" read back: name, the variant's signature, its value rendered as text. */
struct Entry {
	std::string name;
	std::string signature;
	std::string value;

	bool operator==(const Entry &o) const { return name == o.name && signature == o.signature && value == o.value; }
};

inline void PrintTo(const Entry &e, std::ostream *os)
{
	*os << "{" << e.name << ", " << e.signature << ", " << e.value << "}";
}

inline std::string hex(const void *data, size_t size)
{
	std::string out = "0x";
	const auto *p = static_cast<const uint8_t *>(data);
	for (size_t i = 0; i < size; i++)
		out += fmt::format("{:02x}", p[i]);
	return out;
}

/* Render the rest of the current container as text: 1, "s", [a,b], (a,b), true, 0x7f000001. */
inline std::string render(sd_bus_message *m)
{
	std::string out;
	for (;;) {
		char type;
		const char *contents;
		int r = sd_bus_message_peek_type(m, &type, &contents);
		if (r < 0)
			return "<error>";
		if (r == 0)
			break;
		if (!out.empty())
			out += ",";
		switch (type) {
		case 'a':
			if (std::string(contents) == "y") {
				const void *data;
				size_t size;
				if (sd_bus_message_read_array(m, 'y', &data, &size) < 0)
					return "<error>";
				std::string text(static_cast<const char *>(data), size);
				bool printable = !text.empty();
				for (char c : text)
					printable = printable && c >= 0x20 && c < 0x7f;
				out += printable ? "'" + text + "'" : hex(data, size);
				break;
			}
			[[fallthrough]];
		case 'r':
		case 'v':
			if (sd_bus_message_enter_container(m, type, contents) < 0)
				return "<error>";
			out += type == 'a' ? "[" : type == 'r' ? "(" : "";
			out += render(m);
			out += type == 'a' ? "]" : type == 'r' ? ")" : "";
			if (sd_bus_message_exit_container(m) < 0)
				return "<error>";
			break;
		case 's':
		case 'o':
		case 'g': {
			const char *s;
			sd_bus_message_read_basic(m, type, &s);
			out += s;
			break;
		}
		case 'b': {
			int b;
			sd_bus_message_read_basic(m, type, &b);
			out += b ? "true" : "false";
			break;
		}
		case 'i': {
			int32_t v;
			sd_bus_message_read_basic(m, type, &v);
			out += std::to_string(v);
			break;
		}
		case 'u': {
			uint32_t v;
			sd_bus_message_read_basic(m, type, &v);
			out += std::to_string(v);
			break;
		}
		case 't': {
			uint64_t v;
			sd_bus_message_read_basic(m, type, &v);
			out += std::to_string(v);
			break;
		}
		case 'x': {
			int64_t v;
			sd_bus_message_read_basic(m, type, &v);
			out += std::to_string(v);
			break;
		}
		case 'h': {
			int fd;
			sd_bus_message_read_basic(m, type, &fd);
			out += fd >= 0 ? "fd" : "badfd";
			break;
		}
		default:
			sd_bus_message_skip(m, nullptr);
			out += "?";
			break;
		}
	}
	return out;
}

/*
 * A method call to StartTransientUnit's property array, on a bus that is
 * started over one end of a socketpair but never talks: sd-bus only needs a
 * bus that is not in its initial state to build messages.
 */
class Message
{
public:
	Message()
	{
		int fds[2];
		EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		peer_.reset(fds[1]);
		sd_bus *bus = nullptr;
		EXPECT_GE(sd_bus_new(&bus), 0);
		bus_.reset(bus);
		EXPECT_GE(sd_bus_set_fd(bus, fds[0], fds[0]), 0);
		EXPECT_GE(sd_bus_start(bus), 0);
		sd_bus_message *m = nullptr;
		EXPECT_GE(sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
							 "/org/freedesktop/systemd1",
							 "org.freedesktop.systemd1.Manager", "StartTransientUnit"),
			  0);
		m_.reset(m);
		EXPECT_GE(sd_bus_message_open_container(m, 'a', "(sv)"), 0);
	}

	sd_bus_message *get() { return m_.get(); }

	/* Close, seal and read back every "(sv)". */
	std::vector<Entry> entries()
	{
		std::vector<Entry> out;
		sd_bus_message *m = m_.get();
		EXPECT_GE(sd_bus_message_close_container(m), 0);
		EXPECT_GE(sd_bus_message_seal(m, 1, 0), 0);
		EXPECT_GE(sd_bus_message_rewind(m, 1), 0);
		EXPECT_GE(sd_bus_message_enter_container(m, 'a', "(sv)"), 0);
		while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
			Entry e;
			const char *name;
			EXPECT_GE(sd_bus_message_read_basic(m, 's', &name), 0);
			e.name = name;
			char type;
			const char *contents;
			EXPECT_GE(sd_bus_message_peek_type(m, &type, &contents), 0);
			EXPECT_EQ(type, 'v');
			e.signature = contents;
			e.value = render(m);
			EXPECT_GE(sd_bus_message_exit_container(m), 0);
			out.push_back(e);
		}
		return out;
	}

private:
	UniqueFd peer_;
	DummyBusPtr bus_;
	DummyMessagePtr m_;
};

} /* namespace qemudm::test */

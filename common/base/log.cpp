/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "unique_fd.h"

namespace qemudm::log {

namespace {

struct State {
	std::string program = "qemu-dm";
	Target target = Target::Console;
	Level level = Level::Info;
	UniqueFd kmsg;
};

State &state()
{
	static State s;
	return s;
}

bool parseLevel(std::string_view s, Level &ret)
{
	static constexpr std::pair<std::string_view, Level> table[] = {
		{ "err", Level::Error },     { "error", Level::Error }, { "warning", Level::Warning },
		{ "notice", Level::Notice }, { "info", Level::Info },	{ "debug", Level::Debug },
	};
	for (const auto &[name, lvl] : table) {
		if (s == name) {
			ret = lvl;
			return true;
		}
	}
	return false;
}

void writeAll(int fd, std::string_view s)
{
	while (!s.empty()) {
		ssize_t n = ::write(fd, s.data(), s.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s.remove_prefix(static_cast<size_t>(n));
	}
}

} /* namespace */

void setup(std::string_view program, Target target)
{
	State &s = state();
	s.program = std::string(program);
	if (target == Target::Auto)
		target = std::getenv("JOURNAL_STREAM") ? Target::Auto : Target::Console;
	s.target = target;
	if (target == Target::Kmsg) {
		const char *t = std::getenv("QEMU_DM_LOG_TARGET");
		if (!(t && std::string_view(t) == "console"))
			s.kmsg.reset(::open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC));
	}
	if (const char *e = std::getenv("QEMU_DM_LOG_LEVEL")) {
		Level l;
		if (parseLevel(e, l))
			s.level = l;
	}
}

void setLevel(Level level)
{
	state().level = level;
}

Level level()
{
	return state().level;
}

bool enabled(Level l)
{
	return static_cast<int>(l) <= static_cast<int>(state().level);
}

void write(Level l, std::string_view message)
{
	if (!enabled(l))
		return;
	State &s = state();
	int prio = static_cast<int>(l);
	std::string line;
	if (s.target == Target::Kmsg && s.kmsg) {
		line = fmt::format("<{}>{}[{}]: {}\n", prio, s.program, ::getpid(), message);
		writeAll(s.kmsg.get(), line);
		return;
	}
	if (s.target == Target::Auto)
		line = fmt::format("<{}>{}\n", prio, message);
	else
		line = fmt::format("{}: {}\n", s.program, message);
	writeAll(STDERR_FILENO, line);
}

} /* namespace qemudm::log */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging, systemd style. Library code in common/ logs at debug level only;
 * the caller that can explain a failure logs it once, at error level:
 *
 *   return log::error(err);                      // logs err.message(), returns err
 *   log::warning("Failed to parse {}, ignoring.", x);
 *
 * Targets: stderr with "<N>" priority prefixes (journald turns them into
 * priorities) when running under systemd, plain "program: message" lines on
 * a terminal, or /dev/kmsg for the generator. The level comes from
 * QEMU_DM_LOG_LEVEL (err, warning, notice, info, debug) or -v.
 */

#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "result.h"

namespace qemudm::log {

enum class Level : int {
	Error = 3,
	Warning = 4,
	Notice = 5,
	Info = 6,
	Debug = 7,
};

enum class Target {
	Auto,	 /* journal-style prefixes if JOURNAL_STREAM is set, else console */
	Console, /* "program: message" */
	Kmsg,	 /* /dev/kmsg, falling back to Console (generators) */
};

/* Call once from main(): program name, target, and QEMU_DM_LOG_LEVEL. */
void setup(std::string_view program, Target target = Target::Auto);
void setLevel(Level level);
Level level();
bool enabled(Level level);

void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args &&...args)
{
	if (enabled(Level::Debug))
		write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void info(fmt::format_string<Args...> f, Args &&...args)
{
	if (enabled(Level::Info))
		write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void notice(fmt::format_string<Args...> f, Args &&...args)
{
	if (enabled(Level::Notice))
		write(Level::Notice, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void warning(fmt::format_string<Args...> f, Args &&...args)
{
	if (enabled(Level::Warning))
		write(Level::Warning, fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void error(fmt::format_string<Args...> f, Args &&...args)
{
	write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

/* Log an Error once and hand it back: `return log::error(r.error());` */
inline Error error(const Error &err)
{
	write(Level::Error, err.message());
	return err;
}

} /* namespace qemudm::log */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one error convention of qemu-dm (docs/CODING_STYLE.md): a function
 * that can fail returns Result<T>. An Error carries a positive errno value
 * and a message written for the administrator ("Failed to ...: reason").
 * Exceptions are not used for errors; none may cross a C or sd-bus boundary.
 */

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace qemudm {

class Error final
{
public:
	Error() = default;
	Error(int errnum, std::string message) : errno_(errnum < 0 ? -errnum : errnum), message_(std::move(message)) {}

	/* Positive errno value (EINVAL, ENOENT, ...). */
	int code() const { return errno_; }
	const std::string &message() const { return message_; }

	/* Prefix context: Error(ENOENT, "x").wrap("Failed to y") -> "Failed to y: x". */
	Error wrap(std::string_view context) const { return Error(errno_, fmt::format("{}: {}", context, message_)); }

private:
	int errno_ = EINVAL;
	std::string message_;
};

/* Build an Error from errno-style values. */
template <typename... Args>
Error makeError(int errnum, fmt::format_string<Args...> f, Args &&...args)
{
	return Error(errnum, fmt::format(f, std::forward<Args>(args)...));
}

/* An Error for a failed libc call: appends strerror(errnum). */
template <typename... Args>
Error errnoError(int errnum, fmt::format_string<Args...> f, Args &&...args)
{
	errnum = errnum < 0 ? -errnum : errnum;
	return Error(errnum, fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...), std::strerror(errnum)));
}

struct Ok {
};

template <typename T = Ok>
class [[nodiscard]] Result final
{
public:
	Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
	Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }

	T &value() & { return std::get<0>(v_); }
	const T &value() const & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	T &operator*() & { return value(); }
	const T &operator*() const & { return value(); }
	T *operator->() { return &value(); }
	const T *operator->() const { return &value(); }

	const Error &error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

using Status = Result<Ok>;

inline Status success()
{
	return Ok{};
}

} /* namespace qemudm */

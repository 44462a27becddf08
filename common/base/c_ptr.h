/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * RAII for C handles: one idiom, a unique_ptr with a function deleter.
 *   using BusPtr = CPtr<sd_bus, sd_bus_flush_close_unref>;
 */

#include <cstdlib>
#include <memory>

namespace qemudm {

template <auto Fn>
struct CDeleter {
	template <typename T>
	void operator()(T *p) const noexcept
	{
		if (p)
			(void)Fn(p);
	}
};

template <typename T, auto Fn>
using CPtr = std::unique_ptr<T, CDeleter<Fn>>;

template <typename T>
using MallocPtr = CPtr<T, std::free>;

} /* namespace qemudm */

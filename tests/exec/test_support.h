/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the exec tests. */

#include <map>
#include <string>
#include <vector>

#include "exec_args.h"
#include "fake_qemu_help.h"
#include "qemu_probe.h"

namespace qemudm::test {

/* A user database of three users, for -runas names. */
inline Result<UserId> fakeResolve(const std::string &name)
{
	static const std::map<std::string, UserId> users = {
		{ "xen-qemuuser-5", { 131077, 997 } },
		{ "xen-qemuuser-6", { 131078, 997 } },
		{ "root", { 0, 0 } },
		{ "wheelie", { 1000, 0 } },
	};
	auto it = users.find(name);
	if (it == users.end())
		return makeError(ENOENT, "user '{}' does not exist", name);
	return it->second;
}

/* The capabilities a flavour's texts describe, parsed by the production parsers. */
inline QemuCaps fakeCaps(std::string_view flavour)
{
	const FakeQemuFlavour *f = findFakeFlavour(flavour);
	QemuCaps caps;
	caps.version = *parseQemuVersion(f->version);
	caps.help = *parseQemuHelp(f->help);
	caps.accelerators = *parseAccelHelp(f->accel);
	caps.sandbox = f->sandbox;
	return caps;
}

inline std::vector<std::string> words(const std::string &s)
{
	std::vector<std::string> out;
	size_t pos = 0;
	while (pos < s.size()) {
		size_t sp = s.find(' ', pos);
		if (sp == std::string::npos)
			sp = s.size();
		if (sp > pos)
			out.push_back(s.substr(pos, sp - pos));
		pos = sp + 1;
	}
	return out;
}

} /* namespace qemudm::test */

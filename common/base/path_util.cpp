/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "path_util.h"

namespace qemudm {

bool isNormalizedAbsolutePath(std::string_view path)
{
	if (path.size() < 2 || path[0] != '/')
		return false;
	std::string_view rest = path.substr(1);
	while (true) {
		size_t slash = rest.find('/');
		std::string_view comp = rest.substr(0, slash);
		if (comp.empty() || comp == "." || comp == "..")
			return false;
		if (slash == std::string_view::npos)
			return true;
		rest = rest.substr(slash + 1);
	}
}

} /* namespace qemudm */

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "text_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace qemudm {

Result<std::optional<std::string>> readTextFile(const std::filesystem::path &path)
{
	std::ifstream in(path);
	if (!in) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR || e == ESRCH)
			return std::optional<std::string>();
		return errnoError(e ? e : EIO, "Failed to open {}", path.string());
	}
	std::ostringstream ss;
	ss << in.rdbuf();
	if (in.bad())
		return makeError(EIO, "Failed to read {}", path.string());
	return std::optional<std::string>(ss.str());
}

} /* namespace qemudm */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Write a file exclusively and atomically: the text goes to a temporary
 * file in the same directory, which commit() renames into place without
 * replacing an existing file (RENAME_NOREPLACE, or link()+unlink() where the
 * file system lacks it). Every write and the close are checked; if commit()
 * is not reached, the destructor removes the temporary file.
 */

#include <filesystem>
#include <string>
#include <string_view>

#include "result.h"
#include "unique_fd.h"

namespace qemudm {

class AtomicFile final
{
public:
	/* Opens "<dir>/.#<name>XXXXXX" for the final path "<dir>/<name>". */
	[[nodiscard]] static Result<AtomicFile> create(const std::filesystem::path &dir, std::string_view name,
						       mode_t mode = 0644);

	AtomicFile(AtomicFile &&other) noexcept;
	AtomicFile &operator=(AtomicFile &&other) = delete;
	AtomicFile(const AtomicFile &) = delete;
	AtomicFile &operator=(const AtomicFile &) = delete;
	~AtomicFile();

	[[nodiscard]] Status write(std::string_view text);
	/* Close (checked) and move into place; EEXIST if the final path exists. */
	[[nodiscard]] Status commit();

	const std::filesystem::path &path() const { return path_; }
	const std::filesystem::path &tempPath() const { return tempPath_; }

private:
	AtomicFile(UniqueFd fd, std::filesystem::path path, std::filesystem::path tempPath);

	UniqueFd fd_;
	std::filesystem::path path_;
	std::filesystem::path tempPath_;
	bool done_ = false;
};

/* Convenience: create, write, commit. */
[[nodiscard]] Status writeFileAtomic(const std::filesystem::path &dir, std::string_view name, std::string_view text,
				     mode_t mode = 0644);

} /* namespace qemudm */

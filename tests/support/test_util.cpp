/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "test_util.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "string_util.h"

namespace qemudm::test {

TempDir::TempDir(std::string_view prefix, const std::filesystem::path &parent)
{
	std::string tmpl = (parent / prefix).string() + "-XXXXXX";
	if (::mkdtemp(tmpl.data()))
		path_ = tmpl;
}

TempDir::~TempDir()
{
	if (path_.empty())
		return;
	std::error_code ec;
	/* A test may have taken its own rights away (a read-only chroot directory). */
	std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
	std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::filesystem::path &rel, std::string_view text) const
{
	std::filesystem::create_directories((path_ / rel).parent_path());
	std::ofstream(path_ / rel) << text;
}

std::string slurp(const std::filesystem::path &path)
{
	std::ifstream f(path, std::ios::binary);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::string procStatusField(std::string_view status, std::string_view key)
{
	while (!status.empty()) {
		size_t nl = status.find('\n');
		std::string_view line = status.substr(0, nl);
		status = nl == std::string_view::npos ? std::string_view{} : status.substr(nl + 1);
		if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':')
			return std::string(trim(line.substr(key.size() + 1)));
	}
	return {};
}

std::vector<std::string> words(const std::string &s)
{
	std::istringstream in(s);
	std::vector<std::string> out;
	for (std::string w; in >> w;)
		out.push_back(w);
	return out;
}

std::vector<std::string> valuesOf(const std::vector<UnitProperty> &properties, std::string_view name)
{
	std::vector<std::string> v;
	for (const auto &x : properties)
		if (x.name == name)
			v.push_back(x.value);
	return v;
}

} /* namespace qemudm::test */

/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-generator: turns /etc/xen/qemu-dm.conf (+ qemu-dm.conf.d/) into
 * drop-ins for every qemu-dm@<domid>.service (man systemd.generator(7)):
 *
 *   <normal-dir>/qemu-dm@.service.d/50-qemu-dm-hardening.conf
 *   <normal-dir>/qemu-dm@.service.d/50-qemu-dm-limits.conf
 *   <normal-dir>/qemu-dm@.service.d/50-qemu-dm-service.conf
 *
 * It never writes a qemu-dm@.service template: that would block transient
 * instances. It talks to no other process and logs to /dev/kmsg.
 *
 * Fail closed: if the configuration is invalid, the drop-ins above are
 * written from the compiled-in defaults and 50-qemu-dm-config-invalid.conf
 * makes every qemu-dm@ unit fail to start with the reason in its
 * Description= and in the journal. The generator then still exits 0: an
 * invalid qemu-dm.conf must not fail the boot.
 */

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "config.h"
#include "host_policy.h"
#include "log.h"

using namespace qemudm;

namespace {

constexpr std::string_view kProgram = "qemu-dm-generator";

Status writeDropIn(const std::filesystem::path &dir, const PolicyDropIn &dropIn, std::string_view source,
		   const std::vector<std::string> &comments)
{
	/*
	 * No SourcePath= here: in a drop-in of a transient unit it replaces the
	 * unit's own source in `systemctl status` ("Loaded: ... (/etc/xen/
	 * qemu-dm.conf; transient)") and makes systemd ask for a daemon-reload
	 * whenever the config's mtime differs. The source is named in a comment.
	 */
	std::vector<std::string> lines = { fmt::format("Source: {}", source) };
	lines.insert(lines.end(), comments.begin(), comments.end());
	std::string text = renderDropIn(dropIn, kProgram, "", lines);
	if (auto r = writeFileAtomic(dir, dropIn.fileName, text); !r)
		return r;
	log::debug("Wrote {}", (dir / dropIn.fileName).string());
	return success();
}

int run(int argc, char **argv)
{
	log::setup(kProgram, log::Target::Kmsg);

	if (argc != 2 && argc != 4) {
		log::error("Failed to start: expected 1 or 3 arguments (normal, early, late directories), got {}",
			   argc - 1);
		return EXIT_FAILURE;
	}
	std::filesystem::path dest(argv[1]);

	std::filesystem::path configFile = defaultConfigFile();
	std::filesystem::path configDir = defaultConfigDir();
	std::string source = configFile.string();

	Config config;
	std::string invalid;
	auto loaded = loadConfig(configFile, configDir);
	if (loaded) {
		config = std::move(*loaded);
	} else {
		invalid = loaded.error().message();
		/* Logged once; the drop-in below carries it to every unit. */
		log::error("Failed to load the qemu-dm configuration, every qemu-dm@ unit will refuse to start: {}",
			   invalid);
	}

	std::filesystem::path dir = dest / (std::string(kDmUnitTemplate) + ".d");
	if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
		log::error(errnoError(errno, "Failed to create {}", dir.string()));
		return EXIT_FAILURE;
	}

	/* Write every part even if one fails; report the first error at the end. */
	Status first = success();
	auto note = [&](Status r) {
		if (!r) {
			log::error(r.error());
			if (first)
				first = r;
		}
	};

	std::vector<std::string> comments;
	if (!invalid.empty())
		comments = { "The configuration is invalid: these are the compiled-in defaults, and",
			     "50-qemu-dm-config-invalid.conf keeps every qemu-dm@ unit from starting." };
	for (const auto &d : buildHostDropIns(config))
		note(writeDropIn(dir, d, source, comments));

	if (!invalid.empty())
		note(writeDropIn(dir, buildConfigInvalidDropIn(invalid), source,
				 { "The qemu-dm configuration is invalid, so every qemu-dm@.service refuses to start:",
				   "  " + invalid,
				   "Fix it (see qemu-dm.conf(5)), then run \"systemctl daemon-reload\"." }));

	return first ? EXIT_SUCCESS : EXIT_FAILURE;
}

} /* namespace */

int main(int argc, char **argv)
{
	return run(argc, argv);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "qemu_probe.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <fmt/ranges.h>

#include "build_config.h"
#include "file_util.h"
#include "log.h"
#include "unique_fd.h"
#include "parse_util.h"
#include "string_util.h"

namespace qemudm {

namespace {

/* Version 2: entries of version 1 may have been written by a DM (the cache was shared) and are never read. */
constexpr std::string_view kCacheMagic = "qemu-dm-probe 2";
constexpr std::string_view kCapsWordVersion = "3";
constexpr size_t kMaxCapsWord = 64 * 1024;
constexpr size_t kMaxOutput = 1024 * 1024; /* per QEMU run */
constexpr off_t kMaxCacheFile = 256 * 1024;

bool isOptionName(std::string_view token)
{
	if (token.size() < 2 || token[0] != '-' || token[1] == '-')
		return false;
	return std::all_of(token.begin() + 1, token.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		       c == '_';
	});
}

/*
 * Options whose help line puts a one-word-spaced description right after
 * the name, so the synopsis heuristic below would take the first word for an
 * argument. QEMU's help is written for people, not parsers.
 */
constexpr std::string_view kNoArgDespiteHelp[] = {
	"async-teardown", /* "-async-teardown enable asynchronous teardown" (7.2, 8.x) */
};

/* "16 chars of synopsis, then the description": the synopsis ends at the first double space. */
std::string_view synopsisOf(std::string_view line)
{
	size_t pos = line.find("  ");
	return pos == std::string_view::npos ? line : line.substr(0, pos);
}

} /* namespace */

std::string QemuVersion::toString() const
{
	return fmt::format("{}.{}.{}", major, minor, micro);
}

bool QemuCaps::hasAccelerator(std::string_view name) const
{
	return std::find(accelerators.begin(), accelerators.end(), name) != accelerators.end();
}

Result<QemuVersion> parseQemuVersion(std::string_view text)
{
	static constexpr std::string_view marker = "QEMU emulator version ";
	for (std::string_view line : splitRecords(text)) {
		size_t pos = line.find(marker);
		if (pos == std::string_view::npos)
			continue;
		std::string_view v = line.substr(pos + marker.size());
		v = v.substr(0, v.find_first_not_of("0123456789."));
		std::vector<std::string_view> parts = splitOn(v, '.');
		QemuVersion version;
		if (parts.size() < 2 || parts.size() > 3 || !parseInteger(parts[0], version.major) ||
		    !parseInteger(parts[1], version.minor) ||
		    (parts.size() == 3 && !parseInteger(parts[2], version.micro)))
			return makeError(EBADMSG, "unparsable QEMU version '{}'", v);
		return version;
	}
	return makeError(EBADMSG, "no 'QEMU emulator version' line in the -version output");
}

Result<QemuHelp> parseQemuHelp(std::string_view text)
{
	QemuHelp help;
	bool inRunWith = false;

	for (std::string_view line : splitRecords(text)) {
		if (line.empty() || line[0] != '-') {
			/* A continuation line belongs to the option above it. */
			if (inRunWith && !line.empty() && line[0] == ' ') {
				help.runWithChroot |= line.find("chroot=") != std::string_view::npos;
				help.runWithUser |= line.find("user=") != std::string_view::npos;
			} else {
				inRunWith = false;
			}
			continue;
		}

		/* "-name[/-alias] [or -name2] [argument]" */
		std::vector<std::string_view> tokens;
		for (std::string_view t : splitOn(synopsisOf(line), ' '))
			if (!t.empty())
				tokens.push_back(t);
		if (tokens.empty())
			continue;

		std::vector<std::string_view> names;
		bool valid = true;
		for (std::string_view n : splitOn(tokens[0], '/')) {
			if (!isOptionName(n))
				valid = false;
			names.push_back(n.substr(1));
		}
		if (!valid)
			continue;
		size_t idx = 1;
		while (idx + 1 < tokens.size() && tokens[idx] == "or" && isOptionName(tokens[idx + 1])) {
			names.push_back(tokens[idx + 1].substr(1));
			idx += 2;
		}
		bool takesArg = idx < tokens.size();

		inRunWith = false;
		for (std::string_view n : names) {
			bool arg = takesArg;
			if (std::find(std::begin(kNoArgDespiteHelp), std::end(kNoArgDespiteHelp), n) !=
			    std::end(kNoArgDespiteHelp))
				arg = false;
			auto [it, inserted] = help.options.emplace(std::string(n), arg);
			if (!inserted)
				it->second = it->second || arg; /* -display has one line per backend */
			if (n == "run-with")
				inRunWith = true;
		}
		if (inRunWith) {
			help.runWithChroot |= line.find("chroot=") != std::string_view::npos;
			help.runWithUser |= line.find("user=") != std::string_view::npos;
		}
	}

	if (help.options.size() < 10)
		return makeError(EBADMSG, "the -help output lists {} options; not a QEMU system emulator?",
				 help.options.size());
	return help;
}

Result<std::vector<std::string>> parseAccelHelp(std::string_view text)
{
	std::vector<std::string> accels;
	bool header = false;
	for (std::string_view line : splitRecords(text)) {
		line = trim(line);
		if (line.empty())
			continue;
		if (line.find("ccelerators supported") != std::string_view::npos) {
			header = true;
			continue;
		}
		if (!header)
			continue;
		if (line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string_view::npos)
			continue;
		accels.emplace_back(line);
	}
	if (!header)
		return makeError(EBADMSG, "unexpected '-accel help' output");
	return accels;
}

/* ---- cache format ---- */

std::string serializeQemuCaps(const QemuCaps &caps)
{
	std::string out = fmt::format("{}\nversion {}\n", kCacheMagic, caps.version.toString());
	out += "accelerators";
	for (const std::string &a : caps.accelerators)
		out += " " + a;
	out += fmt::format("\nsandbox {}\nrun-with-chroot {}\nrun-with-user {}\noptions", caps.sandbox ? 1 : 0,
			   caps.help.runWithChroot ? 1 : 0, caps.help.runWithUser ? 1 : 0);
	for (const auto &[name, arg] : caps.help.options)
		out += fmt::format(" {}:{}", name, arg ? 1 : 0);
	out += "\n";
	return out;
}

Result<QemuCaps> deserializeQemuCaps(std::string_view text)
{
	std::vector<std::string_view> lines = splitRecords(text);
	if (lines.empty() || lines[0] != kCacheMagic)
		return makeError(EBADMSG, "not a qemu-dm probe cache file");

	QemuCaps caps;
	unsigned int seen = 0;
	auto parseFlag = [](std::string_view v, bool &ret) {
		if (v != "0" && v != "1")
			return false;
		ret = v == "1";
		return true;
	};
	for (size_t i = 1; i < lines.size(); i++) {
		std::string_view line = lines[i];
		size_t sp = line.find(' ');
		std::string_view key = line.substr(0, sp);
		std::string_view value = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
		bool ok = true;
		if (key == "version") {
			auto v = parseQemuVersion(fmt::format("QEMU emulator version {}", value));
			ok = v.ok();
			if (ok)
				caps.version = *v;
			seen |= 1;
		} else if (key == "accelerators") {
			for (std::string_view a : splitOn(value, ' '))
				if (!a.empty())
					caps.accelerators.emplace_back(a);
			seen |= 2;
		} else if (key == "sandbox") {
			ok = parseFlag(value, caps.sandbox);
			seen |= 4;
		} else if (key == "run-with-chroot") {
			ok = parseFlag(value, caps.help.runWithChroot);
			seen |= 8;
		} else if (key == "run-with-user") {
			ok = parseFlag(value, caps.help.runWithUser);
			seen |= 16;
		} else if (key == "options") {
			for (std::string_view o : splitOn(value, ' ')) {
				size_t colon = o.rfind(':');
				bool arg = false;
				if (colon == std::string_view::npos || colon == 0 ||
				    !parseFlag(o.substr(colon + 1), arg)) {
					ok = false;
					break;
				}
				caps.help.options.emplace(std::string(o.substr(0, colon)), arg);
			}
			seen |= 32;
		} else if (!line.empty()) {
			ok = false;
		}
		if (!ok)
			return makeError(EBADMSG, "bad line {} in the probe cache file", i + 1);
	}
	if (seen != 63)
		return makeError(EBADMSG, "incomplete probe cache file");
	return caps;
}

/* ---- binary identity and the --qemu-caps word ---- */

namespace {

int64_t nanoseconds(const struct timespec &ts)
{
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

QemuBinaryId binaryId(const struct stat &st)
{
	QemuBinaryId id;
	id.dev = static_cast<uint64_t>(st.st_dev);
	id.ino = static_cast<uint64_t>(st.st_ino);
	id.size = static_cast<int64_t>(st.st_size);
	id.mtimeNs = nanoseconds(st.st_mtim);
	id.ctimeNs = nanoseconds(st.st_ctim);
	id.mode = static_cast<uint32_t>(st.st_mode & 07777);
	return id;
}

template <typename T>
bool parseNumber(std::string_view s, T &ret)
{
	if (s.empty() || (s.size() > 1 && s[0] == '0') || s[0] == '+')
		return false; /* one spelling per value */
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), ret);
	return ec == std::errc() && p == s.data() + s.size();
}

bool isWordName(std::string_view s)
{
	return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		       c == '_';
	});
}

} /* namespace */

std::string QemuBinaryId::toString() const
{
	return fmt::format("{}:{}:{}:{}:{}:{}", dev, ino, size, mtimeNs, ctimeNs, mode);
}

Result<QemuBinaryId> identifyQemu(const std::string &qemu)
{
	if (qemu.empty() || qemu[0] != '/')
		return makeError(EINVAL, "QEMU path '{}' is not absolute", qemu);
	struct stat st;
	if (::stat(qemu.c_str(), &st) < 0)
		return errnoError(errno, "Failed to stat {}", qemu);
	return binaryId(st);
}

std::string encodeQemuCaps(const QemuBinaryId &id, const QemuCaps &caps)
{
	std::string out = fmt::format("{}/{}/{}/{}/{}{}{}/", kCapsWordVersion, id.toString(), caps.version.toString(),
				      fmt::join(caps.accelerators, ","), caps.sandbox ? 1 : 0,
				      caps.help.runWithChroot ? 1 : 0, caps.help.runWithUser ? 1 : 0);
	bool first = true;
	for (const auto &[name, arg] : caps.help.options) {
		out += fmt::format("{}{}={}", first ? "" : ",", name, arg ? 1 : 0);
		first = false;
	}
	return out;
}

Result<EncodedQemuCaps> decodeQemuCaps(std::string_view word)
{
	auto bad = [](std::string_view what) { return makeError(EINVAL, "malformed QEMU capabilities: {}", what); };
	if (word.size() > kMaxCapsWord)
		return bad("too long");
	std::vector<std::string_view> fields = splitOn(word, '/');
	if (fields.size() != 6 || fields[0] != kCapsWordVersion)
		return bad("expected 6 fields of format version 3");

	EncodedQemuCaps r;
	std::vector<std::string_view> id = splitOn(fields[1], ':');
	if (id.size() != 6 || !parseNumber(id[0], r.id.dev) || !parseNumber(id[1], r.id.ino) ||
	    !parseNumber(id[2], r.id.size) || !parseNumber(id[3], r.id.mtimeNs) || !parseNumber(id[4], r.id.ctimeNs) ||
	    !parseNumber(id[5], r.id.mode) || r.id.size < 0 || r.id.mode > 07777)
		return bad("binary identity");

	std::vector<std::string_view> v = splitOn(fields[2], '.');
	if (v.size() != 3 || !parseNumber(v[0], r.caps.version.major) || !parseNumber(v[1], r.caps.version.minor) ||
	    !parseNumber(v[2], r.caps.version.micro))
		return bad("version");

	if (!fields[3].empty())
		for (std::string_view a : splitOn(fields[3], ',')) {
			if (!isWordName(a))
				return bad("accelerator list");
			r.caps.accelerators.emplace_back(a);
		}

	std::string_view flags = fields[4];
	if (flags.size() != 3 || flags.find_first_not_of("01") != std::string_view::npos)
		return bad("flags");
	r.caps.sandbox = flags[0] == '1';
	r.caps.help.runWithChroot = flags[1] == '1';
	r.caps.help.runWithUser = flags[2] == '1';

	for (std::string_view o : splitOn(fields[5], ',')) {
		size_t eq = o.find('=');
		if (eq == std::string_view::npos || !isWordName(o.substr(0, eq)) ||
		    (o.substr(eq + 1) != "0" && o.substr(eq + 1) != "1"))
			return bad("option list");
		if (!r.caps.help.options.emplace(std::string(o.substr(0, eq)), o.substr(eq + 1) == "1").second)
			return bad(fmt::format("option '{}' listed twice", o.substr(0, eq)));
	}
	return r;
}

/* ---- running QEMU ---- */

namespace {

struct RunOutput {
	std::string output; /* stdout and stderr, merged */
	int status = 0;	    /* waitpid() status */
};

void closeFromInChild(int first)
{
#ifdef SYS_close_range
	if (::syscall(SYS_close_range, static_cast<unsigned int>(first), ~0U, 0U) == 0)
		return;
#endif
	/* Old kernel: close what a child could plausibly have inherited. */
	long max = ::sysconf(_SC_OPEN_MAX);
	for (int fd = first; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		(void)::close(fd);
}

Result<RunOutput> runCapture(const std::string &path, const std::vector<std::string> &args,
			     std::chrono::milliseconds timeout)
{
	std::vector<char *> argv;
	argv.push_back(const_cast<char *>(path.c_str()));
	for (const std::string &a : args)
		argv.push_back(const_cast<char *>(a.c_str()));
	argv.push_back(nullptr);

	int p[2];
	if (::pipe2(p, O_CLOEXEC) < 0)
		return errnoError(errno, "Failed to create a pipe");
	UniqueFd readEnd(p[0]), writeEnd(p[1]);
	UniqueFd devNull(::open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (!devNull)
		return errnoError(errno, "Failed to open /dev/null");

	pid_t pid = ::fork();
	if (pid < 0)
		return errnoError(errno, "Failed to fork");
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here on. */
		if (::dup2(devNull.get(), STDIN_FILENO) < 0 || ::dup2(writeEnd.get(), STDOUT_FILENO) < 0 ||
		    ::dup2(writeEnd.get(), STDERR_FILENO) < 0)
			::_exit(127);
		closeFromInChild(3);
		::execv(argv[0], argv.data());
		::_exit(127);
	}
	writeEnd.reset();

	RunOutput out;
	DeadlineRead read = readUntilDeadline(readEnd.get(), std::chrono::steady_clock::now() + timeout, kMaxOutput);
	out.output = std::move(read.data);
	bool timedOut = read.stop == ReadStop::Deadline, tooLong = read.stop == ReadStop::TooLong;
	if (timedOut || tooLong)
		(void)::kill(pid, SIGKILL);
	while (::waitpid(pid, &out.status, 0) < 0) {
		if (errno != EINTR)
			return errnoError(errno, "Failed to wait for {}", path);
	}
	if (timedOut)
		return makeError(ETIMEDOUT, "'{} {}' did not finish within {} ms", path, fmt::join(args, " "),
				 timeout.count());
	if (tooLong)
		return makeError(EFBIG, "'{} {}' printed more than {} bytes", path, fmt::join(args, " "), kMaxOutput);
	return out;
}

std::string describeStatus(int status)
{
	if (WIFEXITED(status))
		return fmt::format("exited with status {}", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return fmt::format("was killed by signal {}", WTERMSIG(status));
	return "ended abnormally";
}

std::string firstLine(std::string_view s)
{
	s = trim(s.substr(0, s.find('\n')));
	return s.empty() ? std::string("no output") : std::string(s);
}

/* Run QEMU with `args`; fail unless it exits 0. */
Result<std::string> runQemu(const std::string &qemu, const std::vector<std::string> &args,
			    std::chrono::milliseconds timeout)
{
	auto r = runCapture(qemu, args, timeout);
	if (!r)
		return r.error();
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		return makeError(EIO, "'{} {}' {}: {}", qemu, fmt::join(args, " "), describeStatus(r->status),
				 firstLine(r->output));
	return std::move(r->output);
}

/* ---- cache ---- */

struct CacheKey {
	std::string file;     /* name inside the cache directory */
	std::string identity; /* the full key, stored in the file and compared on load */
};

CacheKey cacheKey(const std::string &qemu, const QemuBinaryId &id)
{
	std::string identity = fmt::format("{} {} {} {}", kCacheMagic, PROJECT_VERSION, qemu, id.toString());
	/* FNV-1a 64: a file name, not a security boundary (the identity is compared on load). */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (unsigned char c : identity) {
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return { fmt::format("{:016x}", h), identity };
}

/* mkdir -p: parents 0755, the directory itself 0700. Failures show in openCacheDir(). */
void makeCacheDir(const std::string &dir)
{
	for (size_t pos = 1; pos != std::string::npos;) {
		pos = dir.find('/', pos + 1);
		std::string part = dir.substr(0, pos);
		if (::mkdir(part.c_str(), pos == std::string::npos ? 0700 : 0755) < 0 && errno != EEXIST)
			return;
	}
}

/* A cache directory is used only if it is ours and nobody else can write to it. */
Result<UniqueFd> openCacheDir(const std::string &dir)
{
	UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd)
		return errnoError(errno, "cannot open {}", dir);
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "cannot stat {}", dir);
	if (st.st_uid != ::geteuid() || (st.st_mode & 022))
		return makeError(EPERM, "{} is not owned by uid {} or is writable by others", dir, ::geteuid());
	return fd;
}

Result<QemuCaps> loadCache(int dirFd, const CacheKey &key)
{
	UniqueFd fd(::openat(dirFd, key.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
	if (!fd)
		return errnoError(errno, "no cache entry {}", key.file);
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "cannot stat cache entry {}", key.file);
	if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) || st.st_size > kMaxCacheFile)
		return makeError(EPERM, "cache entry {} is not a private regular file", key.file);
	std::string text(static_cast<size_t>(st.st_size), '\0');
	size_t done = 0;
	while (done < text.size()) {
		ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return makeError(EIO, "short read of cache entry {}", key.file);
		done += static_cast<size_t>(n);
	}
	/* Line 2 is the identity of the binary the entry describes. */
	size_t nl1 = text.find('\n');
	size_t nl2 = nl1 == std::string::npos ? nl1 : text.find('\n', nl1 + 1);
	if (nl2 == std::string::npos || text.substr(nl1 + 1, nl2 - nl1 - 1) != "identity " + key.identity)
		return makeError(ESTALE, "cache entry {} describes another binary", key.file);
	return deserializeQemuCaps(text.substr(0, nl1 + 1) + text.substr(nl2 + 1));
}

Status storeCache(int dirFd, const CacheKey &key, const QemuCaps &caps)
{
	std::string text = serializeQemuCaps(caps);
	size_t nl = text.find('\n');
	text.insert(nl + 1, "identity " + key.identity + "\n");

	std::string tmp = fmt::format("{}.tmp.{}", key.file, ::getpid());
	(void)::unlinkat(dirFd, tmp.c_str(), 0);
	UniqueFd fd(::openat(dirFd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd)
		return errnoError(errno, "cannot create cache entry {}", tmp);
	std::string_view rest = text;
	while (!rest.empty()) {
		ssize_t n = ::write(fd.get(), rest.data(), rest.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			(void)::unlinkat(dirFd, tmp.c_str(), 0);
			return errnoError(err, "cannot write cache entry {}", tmp);
		}
		rest.remove_prefix(static_cast<size_t>(n));
	}
	if (::close(fd.release()) < 0 || ::renameat(dirFd, tmp.c_str(), dirFd, key.file.c_str()) < 0) {
		int err = errno;
		(void)::unlinkat(dirFd, tmp.c_str(), 0);
		return errnoError(err, "cannot commit cache entry {}", key.file);
	}
	return success();
}

Result<QemuCaps> runProbe(const std::string &qemu, std::chrono::milliseconds timeout)
{
	QemuCaps caps;

	auto versionText = runQemu(qemu, { "-version" }, timeout);
	if (!versionText)
		return versionText.error();
	auto version = parseQemuVersion(*versionText);
	if (!version)
		return version.error();
	caps.version = *version;

	auto helpText = runQemu(qemu, { "-help" }, timeout);
	if (!helpText)
		return helpText.error();
	auto help = parseQemuHelp(*helpText);
	if (!help)
		return help.error();
	caps.help = std::move(*help);

	auto accelText = runQemu(qemu, { "-accel", "help" }, timeout);
	if (!accelText)
		return accelText.error();
	auto accels = parseAccelHelp(*accelText);
	if (!accels)
		return accels.error();
	caps.accelerators = std::move(*accels);

	/* -help lists -sandbox even when QEMU was built without libseccomp
	 * (Debian 12's Xen QEMU); only trying it tells. Option parsing stops
	 * at -version, so no filter is ever loaded here. */
	if (caps.sandboxListed()) {
		auto sb = runCapture(qemu, { "-sandbox", "on", "-version" }, timeout);
		if (!sb)
			return sb.error();
		caps.sandbox = WIFEXITED(sb->status) && WEXITSTATUS(sb->status) == 0;
	}
	return caps;
}

} /* namespace */

Result<QemuProbe> probeQemu(const std::string &qemu, const QemuProbeOptions &options)
{
	if (qemu.empty() || qemu[0] != '/')
		return makeError(EINVAL, "QEMU path '{}' is not absolute", qemu);
	auto id = identifyQemu(qemu);
	if (!id)
		return id.error();

	CacheKey key = cacheKey(qemu, *id);
	UniqueFd dirFd;
	if (!options.cacheDir.empty()) {
		if (options.createCacheDir)
			makeCacheDir(options.cacheDir);
		auto d = openCacheDir(options.cacheDir);
		if (d) {
			dirFd = std::move(*d);
			auto cached = loadCache(dirFd.get(), key);
			if (cached) {
				log::debug("Using cached probe of {} ({}/{})", qemu, options.cacheDir, key.file);
				return QemuProbe{ std::move(*cached), *id, true };
			}
			log::debug("Probe cache miss for {}: {}", qemu, cached.error().message());
		} else {
			log::debug("Not using probe cache {}: {}", options.cacheDir, d.error().message());
		}
	}

	auto caps = runProbe(qemu, options.timeout);
	if (!caps)
		return caps.error();

	if (dirFd && !options.readOnly) {
		Status s = storeCache(dirFd.get(), key, *caps);
		if (!s)
			log::debug("Not caching the probe of {}: {}", qemu, s.error().message());
	}
	return QemuProbe{ std::move(*caps), *id, false };
}

} /* namespace qemudm */

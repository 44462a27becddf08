/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The per-domain properties of a DM unit as typed D-Bus values: what
 * planDmUnit() builds and StartTransientUnit receives, with no unit-file
 * text in between that systemd would split, unquote or expand again. A path
 * is one array element, a bind mount a (source, destination, flags) record,
 * a device rule a (path, permissions) pair, ExecStart an argv.
 *
 * Each value type has one D-Bus signature, the one systemd 252 reads for
 * the properties it is used with (src/core/dbus-execute.c, dbus-service.c,
 * dbus-cgroup.c, dbus-unit.c):
 *
 *   bool            "b"        PrivateNetwork, MemoryDenyWriteExecute
 *   std::string     "s"        Description, Slice, Type, NotifyAccess, ...
 *   Usec            "t"        TimeoutStartUSec, TimeoutStopUSec
 *   FileMode        "u"        RuntimeDirectoryMode
 *   ErrnoNumber     "i"        SystemCallErrorNumber
 *   Capabilities    "t"        CapabilityBoundingSet
 *   Strings         "as"       Environment, ReadWritePaths, ReadOnlyPaths, RuntimeDirectory
 *   JournalFields   "aay"      LogExtraFields
 *   AddressFamilies "(bas)"    RestrictAddressFamilies
 *   BindPaths       "a(ssbt)"  BindPaths
 *   DeviceRules     "a(ss)"    DeviceAllow
 *   IpPrefixes      "a(iayu)"  IPAddressAllow, IPAddressDeny
 *   ExecArgv        "a(sasb)"  ExecStart
 *
 * formatBusProperty() prints a property as the unit-file line that systemd
 * reads back as the same value (`qemu-dmctl policy`): '%' doubled, list
 * words quoted where they would split. checkBusProperty() refuses values for
 * which no such line exists: control characters, a path not starting with
 * '/' (a leading '-' or '+' would be read as a prefix), a bind or device path
 * with a space, ':', quote or '\' (systemd-run and unit files split those
 * differently), and in ExecStart the characters systemd 252 cannot read back
 * from the transient unit file it writes (checkExecArgument()).
 */

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <systemd/sd-bus.h>

#include "result.h"

namespace qemudm {

struct Usec {
	uint64_t value = 0;
	bool operator==(const Usec &) const = default;
};

struct FileMode {
	uint32_t value = 0;
	bool operator==(const FileMode &) const = default;
};

struct ErrnoNumber {
	int32_t value = 0;
	bool operator==(const ErrnoNumber &) const = default;
};

/* Capability numbers (CAP_NET_ADMIN = 12, ...), sent as the mask. */
struct Capabilities {
	std::vector<int> caps;
	bool operator==(const Capabilities &) const = default;
};

struct Strings {
	std::vector<std::string> items;
	bool operator==(const Strings &) const = default;
};

/* "FIELD=value" journal fields, each sent as bytes. */
struct JournalFields {
	std::vector<std::string> items;
	bool operator==(const JournalFields &) const = default;
};

struct AddressFamilies {
	bool allowList = true;
	std::vector<std::string> families; /* "AF_UNIX", ... */
	bool operator==(const AddressFamilies &) const = default;
};

struct BindPath {
	std::string source;
	std::string destination;
	bool ignoreMissing = false;
	bool recursive = true; /* MS_REC, BindPaths='s default "rbind" */
	bool operator==(const BindPath &) const = default;
};
struct BindPaths {
	std::vector<BindPath> binds;
	bool operator==(const BindPaths &) const = default;
};

struct DeviceRule {
	std::string path;
	std::string permissions; /* subset of "rwm" */
	bool operator==(const DeviceRule &) const = default;
};
struct DeviceRules {
	std::vector<DeviceRule> rules;
	bool operator==(const DeviceRules &) const = default;
};

struct IpPrefix {
	int family = AF_INET;
	std::array<uint8_t, 16> address{};
	uint32_t prefixLength = 0;
	bool operator==(const IpPrefix &) const = default;
};
struct IpPrefixes {
	std::vector<IpPrefix> prefixes;
	bool operator==(const IpPrefixes &) const = default;
};
/* systemd's shortcuts: "localhost" is 127.0.0.0/8 and ::1/128, "any" 0.0.0.0/0 and ::/0. */
IpPrefixes ipLocalhost();
IpPrefixes ipAny();

/* argv[0] is the program; systemd passes argv on unchanged (no $VAR expansion, see checkExecArgument()). */
struct ExecArgv {
	std::vector<std::string> argv;
	bool operator==(const ExecArgv &) const = default;
};

using BusValue = std::variant<bool, std::string, Usec, FileMode, ErrnoNumber, Capabilities, Strings, JournalFields,
			      AddressFamilies, BindPaths, DeviceRules, IpPrefixes, ExecArgv>;

/*
 * One property as systemd's D-Bus API names it (TimeoutStopUSec, not
 * TimeoutStopSec=): `systemctl show -p NAME` shows the same name.
 */
struct BusProperty {
	std::string name;
	BusValue value;
	bool operator==(const BusProperty &) const = default;
};
using BusProperties = std::vector<BusProperty>;

/* The D-Bus signature of the value ("b", "as", "a(ssbt)", ...). */
std::string_view busSignature(const BusValue &value);

/*
 * Whether systemd reads the formatted line back as this value. Errors
 * (EINVAL) name the property and the reason, e.g.
 *   "ExecStart: argument 3 'a$b' contains '$', which ..."
 */
[[nodiscard]] Status checkBusProperty(const BusProperty &property);

/*
 * One argument of ExecStart: valid UTF-8 (D-Bus strings are), no control
 * character, and none of '$', ';', '`'. systemd 252 writes a transient
 * unit's ExecStart= into /run/systemd/transient/ shell-quoted ("\$", "\;",
 * "\`"), and on daemon-reload its unit-file parser keeps those backslashes:
 * `systemctl show -p ExecStart` and every later start would then see "\$HOME"
 * where "$HOME" was sent (verified in the test bed). ExecStartEx= with
 * "no-env-expand" is no way out either: 252 writes an ExecStartEx= line it
 * cannot parse back, so the unit turns bad-setting after daemon-reload.
 * Refusing these characters leaves no '$' for systemd to expand at all.
 */
[[nodiscard]] Status checkExecArgument(std::string_view arg);

/* Append the property as one "(sv)" to m, positioned inside StartTransientUnit's "a(sv)". */
[[nodiscard]] Status appendBusProperty(sd_bus_message *m, const BusProperty &property);
/* Every property, in order, after checkBusProperty() of each: on an error nothing is appended. */
[[nodiscard]] Status appendBusProperties(sd_bus_message *m, const BusProperties &properties);

/*
 * The unit-file line(s) "Name=value" systemd reads back as the same value
 * (TimeoutStopUSec is written TimeoutStopSec=60s, ...), without a newline.
 */
std::string formatBusProperty(const BusProperty &property);

/* One word of a unit-file list or command line: plain if safe, else "..." with C escapes; '%' as "%%". */
std::string quoteUnitWord(std::string_view word);

enum class StdStream {
	Input,
	Output,
	Error,
};

/*
 * StandardInputFileDescriptor / StandardOutputFileDescriptor /
 * StandardErrorFileDescriptor as "h". sd-bus duplicates fd into the message;
 * the caller keeps its own. This is how systemd 252 lets a caller hand a
 * transient unit a descriptor (OpenFile= came in 253).
 */
[[nodiscard]] Status appendStandardFileDescriptor(sd_bus_message *m, StdStream stream, int fd);

/* Capability names as systemd spells them ("cap_net_admin"); -1 / empty if unknown. */
int capabilityNumber(std::string_view name);
std::string_view capabilityName(int cap);

} /* namespace qemudm */

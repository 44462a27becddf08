/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Test support (the product sends typed values, common/bus_property.h):
 * unit properties as unit-file text -> D-Bus "(sv)" for
 * org.freedesktop.systemd1.Manager.StartTransientUnit.
 *
 * The input is what `systemd-run -p Name=value` takes (systemd 252), and the
 * output is what systemd-run would send for a service unit, so a unit started
 * through here and one started by systemd-run with the same lines are the
 * same unit (tests/integration/test-systemd-bus.cpp checks this). Some names
 * are renamed on the bus as systemd does it: TimeoutStopSec= is sent as
 * TimeoutStopUSec, LimitCORE= as LimitCORE + LimitCORESoft, TasksMax=10% as
 * TasksMaxScale, StandardOutput=file:X as StandardOutputFile, ...
 *
 * Repeating a name appends one more "(sv)": systemd merges the repeats on its
 * side exactly as for repeated unit-file lines (SystemCallFilter=, BindPaths=,
 * DeviceAllow=, RestrictAddressFamilies= accumulate; an empty value resets;
 * a second CapabilityBoundingSet= replaces the first).
 *
 * Values are parsed completely before anything is appended: on an error the
 * message is unchanged. Where systemd leaves checking to the server (syscall
 * names in SystemCallFilter=, address family names, user names), so do we;
 * those errors come back from StartTransientUnit.
 *
 * Errors (EINVAL):
 *   "Unknown unit property 'X'"
 *   "Invalid value 'v' for X=: expected <what>"
 */

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <systemd/sd-bus.h>

#include "bus_property.h" /* StdStream */
#include "host_policy.h"  /* UnitProperty */
#include "result.h"

namespace qemudm {

/* UnitProperty (host_policy.h): one property in unit-file syntax, what `systemd-run -p NAME=VALUE` takes. */

/* Whether appendUnitProperty() accepts this name (case-sensitive, as systemd). */
bool isKnownUnitProperty(std::string_view name);

/* All names appendUnitProperty() accepts, sorted. */
std::vector<std::string_view> knownUnitProperties();

/*
 * Append `name=value` to m, which must be positioned inside the "a(sv)"
 * array of StartTransientUnit (or SetUnitProperties). Appends one or more
 * "(sv)" entries.
 */
[[nodiscard]] Status appendUnitProperty(sd_bus_message *m, std::string_view name, std::string_view value);

/* Append every property in order; stops at the first error. */
[[nodiscard]] Status appendUnitProperties(sd_bus_message *m, const UnitProperties &properties);

/* "Name=value" -> { "Name", "value" }; an error if there is no '=' or no name. */
[[nodiscard]] Result<UnitProperty> parseUnitPropertyAssignment(std::string_view assignment);

/*
 * ExecStart from an argv that needs no quoting: "(sv)" ExecStart "a(sasb)"
 * with path = argv[0]. argv must not be empty; systemd checks the path.
 */
[[nodiscard]] Status appendExecStart(sd_bus_message *m, const std::vector<std::string> &argv,
				     bool ignoreFailure = false);

/* StandardInput= / StandardOutput= / StandardError= in unit-file syntax ("journal", "null", "file:/x"). */
[[nodiscard]] Status appendStandardStream(sd_bus_message *m, StdStream stream, std::string_view value);

} /* namespace qemudm */

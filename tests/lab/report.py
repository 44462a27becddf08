#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Turn the lab scenario's results (tests/lab/guest/scenario.sh) and the
serial log into docs/lab.md. Exit 0 when every selected step ran to its end
and no assertion failed, 1 otherwise (a missing step is a failure)."""

import argparse
import datetime
import re
import sys

TITLES = {
    "0": "dom0, Xen and the installed qemu-dm",
    "1": "upstream not broken: stock dm_restrict=1 HVM guest, no shim",
    "2": "HVM, dm_restrict=1, through qemu-dm-shim",
    "3": "the same HVM guest through the C API (lab-capi)",
    "4": "PV with qdisk and vfb (VNC on localhost) through qemu-dm-shim",
    "5": "xl destroy leaves nothing; the same domid is reused at once",
    "6": "a DM that fails (a disk it cannot open): xl create fails with our reason",
    "7": "negative control: stock libxl's PV DM runs as root; audit fails it",
}

# (label, regular expression on the serial log) in boot order
MILESTONES = [
    ("Xen banner", r"\(XEN\) (\[[0-9a-f]+\] )?Xen version"),
    ("dom0 kernel starts", r"Linux version \d"),
    ("systemd starts", r"systemd\[1\]: (systemd \d+|Detected virtualization|Hostname set)|Welcome to"),
    ("scenario starts", r"LAB-STEP 0 BEGIN"),
    ("scenario done", r"LAB-DONE"),
    ("Xen powers off", r"Entering ACPI S5|reboot: Power down"),
]

HOW = """\
## How the lab works

`tests/lab/lab.sh` (suite `lab`, `make lab`) does, each step bounded by `timeout`:

1. **Base image**: `debootstrap --variant=minbase` of Debian 12 with the packages of
   `tests/lab/dom0-packages` (Xen 4.17, `qemu-system-xen`, a kernel, the runtime dependencies of
   qemu-dm), configured by `tests/lab/base-image.sh`; cached in `/var/cache/qemu-dm-lab/<key>/`,
   key = hash of those two files and the mirror.
2. **qemu-dm, installed as users install it**: the Debian packages of `packaging/build-deb.sh`
   (`dpkg -i` in a copy of the base root), or, before those exist, a `meson install --destdir`
   tree of a `-Dtests=disabled` build. The range base user comes from the package if it makes
   one, else from `adduser --system --uid 131072 --group --no-create-home
   xen-qemuuser-range-base`, as upstream documents.
3. **The lab's helpers**, built on the host: `lab-capi` (a C caller of `libqemu-dm`, compiled
   with `pkg-config --cflags --libs libqemu-dm` against the installed tree) and `lab-fdcheck`
   (takes a running DM's Xen descriptors with `pidfd_open` + `pidfd_getfd` and hands them to
   Debian's `/usr/lib/xen-4.17/bin/depriv-fd-checker`).
4. **Boot**: `mkfs.ext4 -d` of the root, then Xen + dom0 under
   `qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt` (the host has no VMX/SVM); the serial
   console is logged with host timestamps. `qemu-dm-lab.service` (after `xen.service`) runs
   `tests/lab/guest/scenario.sh`, which writes one `LAB <step>.<assertion> PASS|FAIL` line per
   assertion and powers dom0 off; the results are read back from the image with `debugfs`.

What the C API steps do, exactly:
- **Step 3**: `lab-capi` is the guest's `device_model_override`. libxl builds the HVM domain and
  executes `lab-capi` with QEMU's argv, its QMP listening socket (`fd=N`) and its log on
  stdout/stderr, as it would execute QEMU. `lab-capi` passes the argv unchanged to
  `qemu_dm_start()` with the QMP socket handed over as fd N, stays the process libxl tracks
  (`qemu_dm_get_status()`), and stops the unit (`qemu_dm_stop()`) on SIGTERM/SIGHUP. libxl then
  talks QMP to the DM and unpauses the guest, so SeaBIOS running proves the DM that the C API
  started serves the guest.
- **Step 5**: a PV domain without devices is created paused (`xl create -p`; libxl starts no DM
  for it). `lab-capi cycle` plays libxl's part for it: makes a QMP listening socket, starts a PV
  DM with `qemu_dm_start()`, completes the QMP handshake and `query-status`, stops it with
  `qemu_dm_stop()`, and at once starts, queries and stops a DM for the same domid again. (xl
  cannot reuse a domid at once: libxl keeps recently destroyed domids out of use.) After every
  `xl destroy` of steps 2-4 the step asserts that the unit ended, no QEMU of that domid is left,
  no process owns uid base+domid and that uid has no name any more.

- **Step 6**: libxl stats every disk itself and refuses a missing one before any device model
  runs (kept as an observation above); the failing DM therefore gets a disk libxl accepts and
  QEMU cannot open (a directory). The step asserts that libxl's log of that DM carries
  qemu-dm's reason (a line of the shim naming the domain, and the disk; qemu-dm may refuse the
  disk itself or relay QEMU's failure from the journal) and that nothing is left.
- **Step 8** (only with `LAB_STEPS=...+8`, not in a full run: it fails today): an HVM
  `dm_restrict=1` guest through the shim whose disk holds a boot sector that prints a counter
  to Xen's debug port once a second; `xl save` to a file in a root-owned 0700 directory (libxl
  opens it and hands the DM descriptors), then `xl restore` (the restored DM gets the state as
  `-incoming fd:N`, which the shim passes on at that number). Save works and the restored DM
  runs confined in `qemu-dm@<new domid>.service`, but QEMU reopens the disk read-write at
  libxl's `cont`, after `-chroot`/`-runas`, gets `Permission denied`, and the domain stays
  paused although `xl restore` returns 0.

- **Privilege models** (docs/confinement.md, "Never root"): steps 2-5 run with
  `PrivilegeModel=never-root` in a `qemu-dm.conf.d` drop-in, steps 6-9 under the configured
  default, **step 11** with `PrivilegeModel=root` (the HVM guest of step 2 through the shim, QEMU
  starting as root and dropping itself, exposure <= 1.3). Under never-root the DM's unit runs as
  `xen-qemuuser-<domid>` from exec (`<step>.never-root`: `User=`/`Group=`, all ids the DM's,
  every capability set empty, no `-runas`/`-chroot`), exposure <= 0.5. Until qemu-dm grants the
  Xen nodes itself, the scenario's `qemu-dm-lab-grant@<domid>.service` gives the DM's own group
  rw on them for the unit's lifetime (no revocation at QMP readiness yet).

Every run writes its report to `build/tests/lab/run/lab.md`; this file is a full run's, copied
by `make update-docs` (`QEMU_DM_UPDATE_DOCS=1`). Knobs: `LAB_STEPS=1+2+7 make lab` runs a
subset; `LAB_NOPOWEROFF=1` keeps dom0 up for a look on the console. Evidence of every step
(`xl` logs, journals, `/proc` of each DM, checker output) is in `build/tests/lab/run/ev/`.
"""


def md(text):
    return text.replace("|", "\\|").strip()


def parse_results(path):
    asserts, steps, info, done = [], {}, {}, False
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        m = re.match(r"LAB (\d+)\.(\S+) (PASS|FAIL) ?(.*)$", line)
        if m:
            asserts.append((m.group(1), m.group(2), m.group(3), m.group(4)))
            continue
        m = re.match(r"LAB-STEP (\d+) (BEGIN|END) ([0-9.]+) ?(.*)$", line)
        if m:
            s = steps.setdefault(m.group(1), {})
            s[m.group(2)] = float(m.group(3))
            if m.group(4):
                s["title"] = m.group(4)
            continue
        m = re.match(r"LAB-INFO (\S+) ?(.*)$", line)
        if m:
            info[m.group(1)] = m.group(2)
            continue
        if line.strip() == "LAB-DONE":
            done = True
    return asserts, steps, info, done


def milestones(path):
    found = {}
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return found
    for line in lines:
        m = re.match(r"\[\s*([0-9.]+)\] (.*)$", line)
        if not m:
            continue
        for label, rx in MILESTONES:
            if label not in found and re.search(rx, m.group(2)):
                found[label] = float(m.group(1))
    return found


def main():
    ap = argparse.ArgumentParser()
    for opt in ("results", "serial", "timings", "steps", "qemu-exit", "base", "install",
                "capi-flags", "commit", "output"):
        ap.add_argument("--" + opt, required=True)
    a = ap.parse_args()

    asserts, steps, info, done = parse_results(a.results)
    marks = milestones(a.serial)
    phases = []
    try:
        for line in open(a.timings):
            name, secs = line.split()
            phases.append((name, int(secs)))
    except OSError:
        pass

    wanted = sorted(set(["0"] + a.steps.split("+")), key=int)
    problems = []
    if not done:
        problems.append("the scenario did not finish (no LAB-DONE; qemu exit %s)" % a.qemu_exit)
    for s in wanted:
        st = steps.get(s, {})
        if "BEGIN" not in st or "END" not in st:
            problems.append("step %s did not run to its end" % s)
        elif not any(x[0] == s for x in asserts):
            problems.append("step %s made no assertion" % s)
    fails = [x for x in asserts if x[2] == "FAIL"]
    passes = [x for x in asserts if x[2] == "PASS"]
    ok = not problems and not fails

    out = []
    w = out.append
    w("<!-- Generated by tests/lab/lab.sh (`make update-docs`); do not edit. -->")
    w("# The Xen lab: qemu-dm on a real Xen 4.17 host")
    w("")
    w("Generated by the lab run of %s UTC at commit `%s`; every line below comes from that run." %
      (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), a.commit))
    w("")
    verdict = "**PASS**" if ok else "**FAIL**"
    w("Verdict: %s: %d assertions passed, %d failed%s." %
      (verdict, len(passes), len(fails), "; " + "; ".join(problems) if problems else ""))
    w("Steps run: %s." % ", ".join(wanted))
    w("")
    w("## Versions")
    w("")
    w("| what | version |")
    w("|---|---|")
    for key, label in (("xen", "Xen (xl info)"), ("qemu", "Xen QEMU"), ("systemd", "systemd (dom0)"),
                       ("kernel", "dom0 kernel"), ("qemu-dm", "qemu-dm (qemu-dmctl --version)")):
        w("| %s | %s |" % (label, md(info.get(key, "?"))))
    w("| qemu-dm commit | `%s` |" % md(a.commit))
    w("| installed as | %s |" % md(info.get("install", a.install)))
    w("| packages in dom0 | %s |" % md(info.get("packages", "?")))
    w("| C caller built with | `pkg-config --cflags --libs libqemu-dm` = `%s` (`<tree>`: the installed files) |" % md(a.capi_flags))
    w("| base image | %s |" % md(a.base))
    w("| host | `qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt -smp 2 -m 4096` |")
    w("")
    w("## Timings")
    w("")
    w("| host phase | seconds |")
    w("|---|---|")
    for name, secs in phases:
        w("| %s | %d |" % (name, secs))
    w("")
    w("| boot milestone (serial log) | seconds after QEMU started |")
    w("|---|---|")
    for label, _ in MILESTONES:
        w("| %s | %s |" % (label, "%.1f" % marks[label] if label in marks else "not seen"))
    w("")
    w("## Steps")
    for s in wanted:
        st = steps.get(s, {})
        title = st.get("title") or TITLES.get(s, "")
        dur = "%.1f s" % (st["END"] - st["BEGIN"]) if "BEGIN" in st and "END" in st else "did not finish"
        w("")
        w("### Step %s: %s (%s)" % (s, md(title), dur))
        w("")
        rows = [x for x in asserts if x[0] == s]
        if not rows:
            w("No assertion was recorded.")
            continue
        w("| assertion | result | detail |")
        w("|---|---|---|")
        for _, name, verdict_, detail in rows:
            w("| %s.%s | %s | %s |" % (s, md(name), verdict_, md(detail)))
    extra = {k: v for k, v in info.items()
             if k not in ("xen", "qemu", "systemd", "kernel", "qemu-dm", "install", "packages")}
    if extra:
        w("")
        w("## Observations (not asserted)")
        w("")
        for k, v in extra.items():
            w("- %s: %s" % (k, v))
    w("")
    w(HOW)

    with open(a.output, "w") as f:
        f.write("\n".join(out))
    for x in fails:
        print("lab: FAIL %s.%s %s" % (x[0], x[1], x[3]), file=sys.stderr)
    for p in problems:
        print("lab: %s" % p, file=sys.stderr)
    print("lab: %d passed, %d failed%s" % (len(passes), len(fails), ", incomplete" if problems else ""),
          file=sys.stderr)
    # Once more in one line after the count: a CI log excerpt of the last lines still names them.
    if fails or problems:
        what = ["%s.%s: %s" % (x[0], x[1], x[3][:160]) for x in fails] + [p[:160] for p in problems]
        print("lab: failing: %s" % " | ".join(what), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

# The two commands of the README. Each does its own set-up on a fresh
# Debian 12 machine: packages (packaging/install-deps.sh), configure, build.
BUILD ?= build
MESON ?= meson
# Warnings are errors in developer builds and CI only; packagers pick their own flags.
SETUP_ARGS ?= -Dwerror=true

.PHONY: all deps build demo check lab bench update-docs format clean

all: build

deps:
	@bash packaging/install-deps.sh

$(BUILD)/build.ninja: | deps
	$(MESON) setup $(SETUP_ARGS) $(BUILD)

build: deps $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

# The main job: a real qemu-dm@5 in a private systemd test bed.
demo: build
	bash tests/testbed/demo.sh $(BUILD)

# Every suite: unit, generator, userdb, exec, integration (test bed), style, package (the .debs in a clean root), lab (real Xen), bench (a smoke run).
check: build
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2

# The real-Xen lab alone (tests/lab/README.md); LAB_STEPS=1+2+7 for a subset.
lab: build
	$(MESON) test -C $(BUILD) --suite lab --print-errorlogs

# Every benchmark in one run (bench/qemu-dm-bench.cpp): a private systemd test bed, a
# table on stdout and docs/bench.md (machine, command, date; medians with min/max, ratios of one run).
bench: build
	$(BUILD)/bench/qemu-dm-bench --build $(BUILD) --out docs/bench.md

# Regenerate docs/hostile-dm-results.md and docs/lab.md from runs of the hostile suite and the lab.
update-docs: build
	QEMU_DM_UPDATE_DOCS=1 $(MESON) test -C $(BUILD) --print-errorlogs hostile xen-lab

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)

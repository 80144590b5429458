# mcutrain: `make demo` and `make test` are the two commands; the rest are their parts.
SHELL := /bin/bash
MPY_DIR ?= $(CURDIR)/.cache/micropython-1.25.0
VENV ?= $(CURDIR)/.cache/venv
PYTHON := $(VENV)/bin/python
ARCHS := x64 armv6m armv7m armv7emsp armv7emdp
MPY_ABI := 6.3
MODULES := $(notdir $(wildcard native_modules/*))
BUILD_DIR ?= $(CURDIR)/build
MICROPYTHON := $(MPY_DIR)/ports/unix/build-standard/micropython
MPY_CROSS := $(MPY_DIR)/mpy-cross/build/mpy-cross
export MPY_DIR
export MCUTRAIN_BUILD := $(BUILD_DIR)

.PHONY: all venv micropython natmods mip test demo fuzz bench-kernels bench-link clean

all: natmods

venv: $(PYTHON)

$(PYTHON): pyproject.toml
	python3 -m venv $(VENV)
	PIP_CACHE_DIR=$(CURDIR)/.cache/pip $(VENV)/bin/pip install -q -e '.[test]'
	touch $@

$(MPY_DIR)/py/dynruntime.mk:
	tools/fetch-micropython.sh $(MPY_DIR)

$(MPY_CROSS): | $(MPY_DIR)/py/dynruntime.mk
	$(MAKE) -C $(MPY_DIR)/mpy-cross -j2

# The virtual board: the unix port without the parts that need stripped submodules.
$(MICROPYTHON): | $(MPY_DIR)/py/dynruntime.mk
	$(MAKE) -C $(MPY_DIR)/ports/unix -j2 FROZEN_MANIFEST= MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0

micropython: $(MICROPYTHON) $(MPY_CROSS)

# $(BUILD_DIR)/natmod/<arch>_6.3/<module>.mpy for every module and arch, objects under $(BUILD_DIR)/obj.
natmods: $(MPY_CROSS) $(PYTHON)
	@set -e; for mod in $(MODULES); do for arch in $(ARCHS); do \
	    out=$(BUILD_DIR)/natmod/$${arch}_$(MPY_ABI)/$$mod.mpy; log=$(BUILD_DIR)/obj/$$arch-$$mod.log; \
	    mkdir -p $$(dirname $$out) $(BUILD_DIR)/obj; \
	    $(MAKE) -s -C native_modules/$$mod ARCH=$$arch MPY_DIR=$(MPY_DIR) PYTHON=$(PYTHON) \
	        BUILD=$(BUILD_DIR)/obj/$$arch/$$mod OUT=$$out $$out > $$log 2>&1 || { cat $$log; exit 1; }; \
	    printf '%-28s %6d bytes\n' "$${arch}_$(MPY_ABI)/$$mod.mpy" $$(stat -c %s $$out); \
	done; done

# pytest exits 5 when it collects nothing: a broken test tree, never a pass.
test: natmods $(MICROPYTHON)
	@$(PYTHON) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The kernels on the host under ASan/UBSan with random arguments; CI runs 200k calls.
FUZZ_CALLS ?= 5000000
FUZZ_SEED ?= 1
fuzz:
	$(MAKE) -s -C native_modules/qnn/harness BUILD=$(BUILD_DIR)/harness
	$(BUILD_DIR)/harness/fuzz $(FUZZ_CALLS) $(FUZZ_SEED)

# The main job on the virtual board: the committed int8 tiny adapts on the board to noisy images
# streamed over the serial link; accuracy before and after, metrics and a plot in runs/.
demo: natmods $(MICROPYTHON)
	$(PYTHON) -m mcutrain_host.cli demo

# Samples/s and payload efficiency of the serial link to the virtual board, over a pipe and a pty.
bench-link: natmods $(MICROPYTHON)
	$(PYTHON) bench/link.py

# The device package for `mpremote mip install`: $(BUILD_DIR)/mip/<arch>_6.3/package.json with the
# bytecode and that arch's qnn natmod (host/mcutrain_host/board/mip_package.py).
mip: natmods
	$(PYTHON) -m mcutrain_host.board.mip_package $(BUILD_DIR)/mip

# Prints MACs/s on the virtual board and NumPy, and callgrind instructions per MAC.
bench-kernels: natmods $(MICROPYTHON)
	$(PYTHON) bench/kernels.py

# Emulated Cortex-M boards (issue #7): MicroPython's qemu port under qemu-system-arm, started and
# driven by host/mcutrain_host/board/qemu.py. qemu-m0 is QEMU's microbit (Cortex-M0, armv6m, given
# 256 KB SRAM and 1 MB flash), qemu-m3 mps2-an385 (Cortex-M3, armv7m), qemu-m4 mps2-an386
# (Cortex-M4F, armv7emsp; our board folder boards/qemu/MPS2_AN386). Each gets a QEMU_HEAP-byte GC
# heap (default 190 KB, about an RP2040's free heap), binary sys.stdin/stdout.buffer
# (boards/qemu/mcutrain_qemu.h) and a ROMFS partition (boards/qemu/romfs_partition.c, added by
# our board folders, which include the port's own).
# Firmware: $(BUILD_DIR)/qemu/heap-<QEMU_HEAP>/<board>/firmware.elf, and <board>-frozen/ (below).
QEMU_HEAP ?= 194560
QEMU_BOARDS := qemu-m0 qemu-m3 qemu-m4
QEMU_FIRMWARE := $(foreach b,$(QEMU_BOARDS),$(BUILD_DIR)/qemu/heap-$(QEMU_HEAP)/$(b)/firmware.elf)
QEMU_FROZEN_FIRMWARE := $(foreach b,$(QEMU_BOARDS),$(BUILD_DIR)/qemu/heap-$(QEMU_HEAP)/$(b)-frozen/firmware.elf)
QEMU_MPY_BOARD_qemu-m0 := BOARD=MICROBIT BOARD_DIR=$(CURDIR)/boards/qemu/MICROBIT
QEMU_MPY_BOARD_qemu-m3 := BOARD=MPS2_AN385 BOARD_DIR=$(CURDIR)/boards/qemu/MPS2_AN385
QEMU_MPY_BOARD_qemu-m4 := BOARD=MPS2_AN386 BOARD_DIR=$(CURDIR)/boards/qemu/MPS2_AN386
QEMU_BOARD_SOURCES := boards/qemu/mcutrain_qemu.h boards/qemu/romfs_partition.c boards/qemu/no_clock.c $(wildcard boards/qemu/*/mpconfigboard.mk)
QEMU_CFLAGS_qemu-m0 := -DMICROPY_PERSISTENT_CODE_LOAD_NATIVE=1

.PHONY: qemu-boards bench-arm bench-memory bench-plans
qemu-boards: $(QEMU_FIRMWARE) $(QEMU_FROZEN_FIRMWARE)

# Each model and study method on qemu-m0: its plan's bytes, the heap it holds after 20 steps and
# the least it runs in, with the package and qnn in files, ROMFS or the firmware, and the
# instructions of a step (bench/memory.py).
bench-memory: natmods $(QEMU_FIRMWARE) $(QEMU_FROZEN_FIRMWARE)
	$(PYTHON) bench/memory.py

# The bytes each training plan holds, fast and lean, next to inference alone (bench/plans.py).
bench-plans: $(PYTHON)
	$(PYTHON) bench/plans.py

# Instructions per kernel call, per MAC and per training step of tiny on qemu-m0/m3/m4, counted by
# SysTick under QEMU's -icount (bench/arm.py).
bench-arm: natmods $(QEMU_FIRMWARE)
	$(PYTHON) bench/arm.py

# One firmware build of the qemu port, from scratch (the port's qstr cache misses configuration
# changes): $(1) our board name, $(2) what to freeze and which user C modules to build in.
define qemu_firmware
	@rm -rf $(@D) && mkdir -p $(@D)
	@start=$$(date +%s); \
	$(MAKE) -C $(MPY_DIR)/ports/qemu $(QEMU_MPY_BOARD_$(1)) BUILD=$(@D) $(2) \
	    MICROPY_HEAP_SIZE=$(QEMU_HEAP) \
	    CFLAGS_EXTRA='-DMP_CONFIGFILE="<$(CURDIR)/boards/qemu/mcutrain_qemu.h>" $(QEMU_CFLAGS_$(1))' \
	    -j2 > $(@D)/build.log 2>&1 || { tail -40 $(@D)/build.log; exit 1; }; \
	printf '%-15s heap %d bytes, built in %d s: %s\n' $(notdir $(@D)) $(QEMU_HEAP) $$(( $$(date +%s) - start )) $@
endef

$(BUILD_DIR)/qemu/heap-$(QEMU_HEAP)/%/firmware.elf: $(QEMU_BOARD_SOURCES) | $(MPY_DIR)/py/dynruntime.mk
	$(call qemu_firmware,$*,FROZEN_MANIFEST=)

# The same boards with the device package frozen and qnn built in as a user C module (#16): their
# code runs from flash, and the ROM image holds only the model. The port's frozen build insists
# that micropython-lib exists, which Debian's tarball strips; our manifests need nothing from it.
FROZEN_SOURCES := device/manifest.py boards/qemu/manifest.py boards/qemu/time.py $(wildcard device/mcutrain/*.py) \
    $(wildcard native_modules/qnn/*.[ch]) native_modules/qnn/micropython.mk
NO_MICROPYTHON_LIB := $(BUILD_DIR)/no-micropython-lib
$(BUILD_DIR)/qemu/heap-$(QEMU_HEAP)/%-frozen/firmware.elf: $(QEMU_BOARD_SOURCES) \
        $(FROZEN_SOURCES) | $(MPY_DIR)/py/dynruntime.mk $(MPY_CROSS)
	@mkdir -p $(NO_MICROPYTHON_LIB) && echo "stands in for micropython-lib (see the Makefile)" > $(NO_MICROPYTHON_LIB)/README.md
	$(call qemu_firmware,$*,USER_C_MODULES=$(CURDIR)/native_modules FROZEN_MANIFEST=$(CURDIR)/boards/qemu/manifest.py MPY_LIB_DIR=$(NO_MICROPYTHON_LIB))

# The committed pre-trained models (float .npz and int8 model file), trained from scratch on
# Fashion-MNIST, each followed by its clean test accuracy. `make demo` uses them as committed.
MCUTRAIN := $(PYTHON) -m mcutrain_host.cli
.PHONY: models
models: $(PYTHON)
	mkdir -p models
	$(MCUTRAIN) pretrain --model tiny --epochs 8 -o models/tiny-float.npz
	$(MCUTRAIN) quantize models/tiny-float.npz -o models/tiny.mcut
	$(MCUTRAIN) eval models/tiny-float.npz
	$(MCUTRAIN) eval models/tiny.mcut
	$(MCUTRAIN) pretrain --model small --epochs 12 -o models/small-float.npz
	$(MCUTRAIN) quantize models/small-float.npz -o models/small.mcut
	$(MCUTRAIN) eval models/small-float.npz
	$(MCUTRAIN) eval models/small.mcut
	$(MCUTRAIN) pretrain --model medium --epochs 6 -o models/medium-float.npz
	$(MCUTRAIN) quantize models/medium-float.npz -o models/medium.mcut
	$(MCUTRAIN) eval models/medium-float.npz
	$(MCUTRAIN) eval models/medium.mcut

clean:
	rm -rf $(BUILD_DIR)

# mcutrain: `make demo` and `make test` are the two commands; the rest are their parts.
SHELL := /bin/bash
MPY_DIR ?= $(CURDIR)/.cache/micropython-1.25.0
VENV ?= $(CURDIR)/.cache/venv
PYTHON := $(VENV)/bin/python
ARCHS := x64 armv6m armv7m armv7emsp armv7emdp
MPY_ABI := 6.3
MODULES := $(notdir $(wildcard native_modules/*))
MICROPYTHON := $(MPY_DIR)/ports/unix/build-standard/micropython
MPY_CROSS := $(MPY_DIR)/mpy-cross/build/mpy-cross
export MPY_DIR

.PHONY: all venv micropython natmods test demo clean

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

# build/natmod/<arch>_6.3/<module>.mpy for every module and arch; objects stay under build/obj.
natmods: $(MPY_CROSS) $(PYTHON)
	@set -e; mkdir -p build; for mod in $(MODULES); do for arch in $(ARCHS); do \
	    $(MAKE) -s -C native_modules/$$mod ARCH=$$arch MPY_DIR=$(MPY_DIR) PYTHON=$(PYTHON) \
	        BUILD=$(CURDIR)/build/obj/$$arch/$$mod > build/natmod.log 2>&1 || { cat build/natmod.log; exit 1; }; \
	    mkdir -p build/natmod/$${arch}_$(MPY_ABI); \
	    mv native_modules/$$mod/$$mod.mpy build/natmod/$${arch}_$(MPY_ABI)/$$mod.mpy; \
	    printf '%-28s %6d bytes\n' "$${arch}_$(MPY_ABI)/$$mod.mpy" $$(stat -c %s build/natmod/$${arch}_$(MPY_ABI)/$$mod.mpy); \
	done; done

test: natmods $(MICROPYTHON)
	$(PYTHON) -m pytest -q

clean:
	rm -rf build

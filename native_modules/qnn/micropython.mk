# qnn as a user C module, compiled into firmware so that its code runs from flash:
#   make -C <micropython>/ports/<port> BOARD=... USER_C_MODULES=<this repo>/native_modules
# The same sources as the natmod (Makefile); the harness is the host's, not the board's.
QNN_MOD_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(wildcard $(QNN_MOD_DIR)/*.c)
CFLAGS_USERMOD += -I$(QNN_MOD_DIR)

# As in the natmod build: the kernels are the hot path (-O2 over the port's -Os), and mac.c's
# Cortex-M4 loop spills three more registers when scheduled before register allocation.
$(BUILD)/qnn/%.o: CFLAGS += -O2
$(BUILD)/qnn/mac.o: CFLAGS += -fno-schedule-insns

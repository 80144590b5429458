# qemu-m4: QEMU's mps2-an386 (ARM MPS2 with a Cortex-M4F) for MicroPython 1.25's qemu port,
# passed as BOARD_DIR=; the memory map and UART are the AN385's, so the port's mps2 support serves.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

# Single-precision FPU, hard-float ABI: sys.implementation._mpy reports armv7emsp.
CFLAGS += -mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4F"'

LDSCRIPT = mcu/arm/mps2.ld

SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

MPY_CROSS_FLAGS += -march=armv7emsp
SRC_C += $(abspath $(BOARD_DIR)/../romfs_partition.c)
# FAT, the filesystem an stm32 board keeps its files on (make bench-memory's files-in-RAM mode).
MICROPY_VFS_FAT = 1
SRC_C += shared/timeutils/timeutils.c
SRC_C += $(abspath $(BOARD_DIR)/../no_clock.c)

# qemu-m3: the port's MPS2_AN385 board, with a ROMFS partition (../romfs_partition.c).
include $(TOP)/ports/qemu/boards/MPS2_AN385/mpconfigboard.mk
SRC_C += $(abspath $(BOARD_DIR)/../romfs_partition.c)
# FAT, the filesystem an stm32 board keeps its files on (make bench-memory's files-in-RAM mode).
MICROPY_VFS_FAT = 1
SRC_C += shared/timeutils/timeutils.c
SRC_C += $(abspath $(BOARD_DIR)/../no_clock.c)

# qemu-m0: the port's MICROBIT board, with a ROMFS partition (../romfs_partition.c).
include $(TOP)/ports/qemu/boards/MICROBIT/mpconfigboard.mk
SRC_C += $(abspath $(BOARD_DIR)/../romfs_partition.c)

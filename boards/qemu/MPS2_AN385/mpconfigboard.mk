# qemu-m3: the port's MPS2_AN385 board, with a ROMFS partition (../romfs_partition.c).
include $(TOP)/ports/qemu/boards/MPS2_AN385/mpconfigboard.mk
SRC_C += $(abspath $(BOARD_DIR)/../romfs_partition.c)

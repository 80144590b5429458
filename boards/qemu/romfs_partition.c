// A ROMFS partition for the emulated boards (vfs.rom_ioctl), as an stm32 or rp2 firmware built
// with one has: `mpremote romfs deploy` and `mcutrain deploy --romfs` write it, and MicroPython
// mounts it at /rom, with /rom/lib on sys.path, at every reset. It is the region qemu.py's
// loader fills with a deploy image: on qemu-m0 the nRF51's flash above the firmware, erased and
// written through its NVMC as on the chip; on the mps2 machines RAM above the firmware, their
// stand-in for flash (it keeps its bytes over soft resets, not over a restart of QEMU).
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "extmod/vfs.h"

#if defined(QEMU_SOC_NRF51)
#define PARTITION_START 0x00080000
#define PARTITION_BYTES 0x00080000
#define PAGE_BYTES 1024
#define NVMC_READY (*(volatile uint32_t *)0x4001E400)
#define NVMC_CONFIG (*(volatile uint32_t *)0x4001E504)
#define NVMC_ERASEPAGE (*(volatile uint32_t *)0x4001E508)
#define NVMC_READ_ONLY 0
#define NVMC_WRITE 1
#define NVMC_ERASE 2
#else
#define PARTITION_START 0x00200000
#define PARTITION_BYTES 0x00100000
#endif

static const MP_DEFINE_MEMORYVIEW_OBJ(partition_obj, 'B', 0, PARTITION_BYTES, (void *)PARTITION_START);

#if defined(QEMU_SOC_NRF51)
static void nvmc_wait(void) {
    while (!NVMC_READY) {
    }
}
#endif

// Erases the pages that hold the first `length` bytes; returns the smallest write, in bytes.
static mp_int_t partition_prepare(mp_int_t length) {
    #if defined(QEMU_SOC_NRF51)
    NVMC_CONFIG = NVMC_ERASE;
    for (mp_int_t page = 0; page < length; page += PAGE_BYTES) {
        NVMC_ERASEPAGE = PARTITION_START + page;
        nvmc_wait();
    }
    NVMC_CONFIG = NVMC_READ_ONLY;
    return 4;
    #else
    memset((void *)PARTITION_START, 0xff, length);
    return 1;
    #endif
}

static mp_int_t partition_write(mp_int_t offset, const mp_buffer_info_t *data) {
    if (offset < 0 || (size_t)offset > PARTITION_BYTES || data->len > PARTITION_BYTES - (size_t)offset) {
        return -MP_EINVAL;
    }
    #if defined(QEMU_SOC_NRF51)
    // The NVMC writes whole aligned words; mpremote writes 4 KB chunks at 4 KB offsets.
    if (offset % 4 || data->len % 4) {
        return -MP_EINVAL;
    }
    NVMC_CONFIG = NVMC_WRITE;
    for (size_t i = 0; i < data->len; i += 4) {
        uint32_t word;
        memcpy(&word, (const uint8_t *)data->buf + i, 4);
        *(volatile uint32_t *)(PARTITION_START + offset + i) = word;
        nvmc_wait();
    }
    NVMC_CONFIG = NVMC_READ_ONLY;
    #else
    memcpy((uint8_t *)PARTITION_START + offset, data->buf, data->len);
    #endif
    return 0;
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t command = mp_obj_get_int(args[0]);
    if (command == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(1);
    }
    if (n_args < 2 || mp_obj_get_int(args[1]) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (command) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&partition_obj);
        case MP_VFS_ROM_IOCTL_WRITE_PREPARE: {
            mp_int_t length = n_args < 3 ? -1 : mp_obj_get_int(args[2]);
            if (length < 0 || length > PARTITION_BYTES) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            return MP_OBJ_NEW_SMALL_INT(partition_prepare(length));
        }
        case MP_VFS_ROM_IOCTL_WRITE: {
            if (n_args < 4) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_buffer_info_t data;
            mp_get_buffer_raise(args[3], &data, MP_BUFFER_READ);
            return MP_OBJ_NEW_SMALL_INT(partition_write(mp_obj_get_int(args[2]), &data));
        }
        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(0);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}

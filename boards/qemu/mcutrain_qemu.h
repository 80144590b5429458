// mcutrain's additions to the configuration of MicroPython 1.25's qemu port, for the emulated
// boards (qemu-m0, qemu-m3, qemu-m4). Selected with CFLAGS_EXTRA=-DMP_CONFIGFILE="<this file>":
// py/mpconfig.h then includes this file instead of the port's mpconfigport.h, which it includes.
#include "mpconfigport.h"

// The link is binary: sys.stdin.buffer / sys.stdout.buffer pass bytes untranslated (the text
// streams turn \r into \n and \n into \r\n). The port turns them off; the server needs them.
#undef MICROPY_PY_SYS_STDIO_BUFFER
#define MICROPY_PY_SYS_STDIO_BUFFER (1)

// A Cortex-M4F firmware built for the hard-float ABI needs the FPU on before its first float
// instruction; the port's startup does not do it, mp_init runs this first.
#if defined(__ARM_FP) && !defined(MICROPY_PORT_INIT_FUNC)
#define MICROPY_PORT_INIT_FUNC (*(volatile uint32_t *)0xE000ED88 |= 0xfu << 20) // CPACR: CP10, CP11
#endif


// qemu-m0: the port leaves the Thumb emitter out of its nRF51 build (a micro:bit has 256 KB of
// flash); ours has 1 MB. With it the board reports armv6m in sys.implementation._mpy and loads
// armv6m natmods, as MicroPython on an RP2040 does (persistentcode.h tests a natmod's arch
// against the emitter's; MICROPY_PERSISTENT_CODE_LOAD_NATIVE alone leaves that test failing).
#if defined(QEMU_SOC_NRF51) && !defined(MICROPY_EMIT_THUMB)
#define MICROPY_EMIT_THUMB (1)
#endif

// qemu-m0: the inline assembler too (the port leaves it out of the nRF51 build, the other boards
// have it), for the one instruction Python cannot issue: `bkpt 0xAB`, an ARM semihosting call,
// through which qemu.py's prelude keeps the board's checkpoints in a host folder.
#if defined(QEMU_SOC_NRF51) && !defined(MICROPY_EMIT_INLINE_THUMB)
#define MICROPY_EMIT_INLINE_THUMB (1)
#endif

// A ROMFS partition (romfs_partition.c), mounted at /rom at every reset.
#undef MICROPY_VFS_ROM_IOCTL
#define MICROPY_VFS_ROM_IOCTL (1)

// FAT (MICROPY_VFS_FAT in our board folders) with long file names and os.chdir/getcwd, as the
// stm32 port has it.
#define MICROPY_FATFS_ENABLE_LFN (1)
#define MICROPY_FATFS_LFN_CODE_PAGE 437
#define MICROPY_FATFS_RPATH (2)

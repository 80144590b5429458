// FAT stamps files with get_fattime(), which the qemu port does not have: the emulated boards
// have no real-time clock, so every file's time is 0 (1980-01-01, FAT's epoch).
#include "lib/oofatfs/ff.h"

DWORD get_fattime(void) {
    return 0;
}

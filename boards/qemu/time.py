# `time` for the emulated boards: MicroPython's qemu port has none, so mcutrain.bench and anything
# else that times itself reads a 32-bit hardware timer of the board instead, clocked from QEMU's
# virtual time. Under `-icount shift=0` (QemuBoard(icount=True)) virtual time advances 1 ns per
# instruction, so a microsecond here is 1000 instructions, the same on every run.
import sys
from machine import mem32

if "nRF51" in sys.implementation._machine:  # qemu-m0: nRF51 TIMER0, 32 bits at 16 MHz
    _BASE, _MHZ = 0x40008000, 16
    mem32[_BASE + 0x504] = 0  # MODE: timer
    mem32[_BASE + 0x508] = 3  # BITMODE: 32 bits
    mem32[_BASE + 0x510] = 0  # PRESCALER: 16 MHz
    mem32[_BASE] = 1  # TASKS_START

    def _ticks():
        mem32[_BASE + 0x040] = 1  # TASKS_CAPTURE[0]
        return mem32[_BASE + 0x540] & 0xFFFFFFFF  # CC[0]
else:  # qemu-m3, qemu-m4: CMSDK APB TIMER0 of the MPS2, 32 bits counting down at 25 MHz
    _BASE, _MHZ = 0x40000000, 25
    mem32[_BASE + 0x8] = -1  # RELOAD
    mem32[_BASE + 0x4] = -1  # VALUE
    mem32[_BASE] = 1  # CTRL: enable

    def _ticks():
        return ~mem32[_BASE + 0x4] & 0xFFFFFFFF

_PERIOD = (1 << 32) // _MHZ  # ticks_us wraps here (a 25 MHz timer's last microsecond is short)


def ticks_us():
    return _ticks() // _MHZ


TICKS_CPU_PER_US = _MHZ


def ticks_cpu():
    """The timer itself: 32 bits, TICKS_CPU_PER_US a microsecond (wraps after 2**32)."""
    return _ticks()


def ticks_diff(end, start):
    return (end - start) % _PERIOD

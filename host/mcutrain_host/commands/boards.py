"""mcutrain boards: the serial ports, and which of them look like MicroPython boards."""

import argparse

# USB vendor IDs of boards that run MicroPython over their own USB (CDC) port.
BOARD_VENDORS = {0x2E8A: "Raspberry Pi RP2040/RP2350", 0x0483: "STMicroelectronics STM32",
                 0xF055: "MicroPython (pyboard and others)", 0x303A: "Espressif ESP32-S2/S3/C3"}
# USB-serial bridges: a board behind one may run MicroPython on its UART.
BRIDGES = {0x10C4: "Silicon Labs CP210x bridge", 0x1A86: "WCH CH340 bridge", 0x0403: "FTDI bridge"}


def add_parser(subparsers):
    p = subparsers.add_parser(
        "boards", help="list serial ports and the MicroPython boards among them",
        description="List the serial ports of this machine (device, description, USB VID:PID) and say which "
                    "look like MicroPython boards: Raspberry Pi RP2040/RP2350 (VID 2E8A), STM32 (0483), "
                    "MicroPython's own VID (F055), Espressif (303A), or \"MicroPython\" in the USB "
                    "description. Pass a board's device as --port to the other commands; with no board, "
                    "--port sim is the virtual board.",
        epilog="examples:\n"
               "  mcutrain boards\n"
               "  mcutrain bench --port /dev/ttyACM0",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(run=run)


def kind(port):
    """('board', why), ('maybe', why) or (None, '') for a pyserial ListPortInfo."""
    text = " ".join(str(getattr(port, k, None) or "") for k in ("description", "manufacturer", "product"))
    if "micropython" in text.lower():
        return "board", "MicroPython in its USB description"
    if port.vid in BOARD_VENDORS:
        return "board", BOARD_VENDORS[port.vid]
    if port.vid in BRIDGES:
        return "maybe", BRIDGES[port.vid] + ": a board behind it may run MicroPython"
    return None, ""


def comports():
    from serial.tools import list_ports

    return sorted(list_ports.comports(), key=lambda p: p.device)


def run(args):
    found = comports()
    if not found:
        print("no serial ports found: plug a board in over USB (a data cable, not a charge-only one), "
              "or use the virtual board with --port sim (e.g. mcutrain bench --port sim)")
        return 0
    rows = []
    boards = []
    for port in found:
        vid_pid = f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None and port.pid is not None else "-"
        what, why = kind(port)
        note = {"board": f"MicroPython board? yes: {why}", "maybe": f"MicroPython board? maybe: {why}"}.get(what, "")
        if what == "board":
            boards.append(port.device)
        description = port.description if port.description and port.description != "n/a" else "-"
        rows.append((port.device, vid_pid, description, note))
    widths = [max(len(r[i]) for r in rows + [("DEVICE", "VID:PID", "DESCRIPTION", "")]) for i in range(3)]
    print(f"{'DEVICE':<{widths[0]}}  {'VID:PID':<{widths[1]}}  {'DESCRIPTION':<{widths[2]}}")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())
    print()
    if boards:
        print(f"{len(boards)} port(s) look like MicroPython boards; use one as --port, e.g. "
              f"mcutrain bench --port {boards[0]}")
    else:
        print("none of these looks like a MicroPython board (no USB board VID, no \"MicroPython\" in a "
              "description); with no board, use the virtual board: --port sim (e.g. mcutrain bench --port sim)")
    return 0

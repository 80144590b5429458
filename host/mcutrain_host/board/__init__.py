"""Everything that talks to a board: where MicroPython and our builds are, the virtual and the
emulated boards, the serial link and its transports, the training session, and deploy."""

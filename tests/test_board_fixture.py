"""The board fixture must turn a device-side exception into a failure that shows the device's
traceback, and must really limit the heap."""

import pytest

from conftest import DeviceError


def test_device_exception_fails_with_its_traceback(board):
    with pytest.raises(DeviceError) as failure:
        board.run("""
            def inner():
                raise ValueError("broken on the board")
            inner()
        """)
    text = str(failure.value)
    assert "Traceback" in text and "ValueError: broken on the board" in text and "inner" in text


def test_heap_limit_is_enforced(board):
    code = "b = bytearray(150 * 1024); print(len(b))"
    assert board.run(code, heap="192K").strip() == str(150 * 1024)
    with pytest.raises(DeviceError, match="MemoryError"):
        board.run(code, heap="128K")

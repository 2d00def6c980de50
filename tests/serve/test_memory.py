"""return_large_buffers_to_the_os: glibc's mmap threshold fixed, so freed large buffers leave the process."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from bonefrac.serve.memory import return_large_buffers_to_the_os


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_memory_threshold_is_set_on_glibc():
    assert ctypes.util.find_library("c")
    assert return_large_buffers_to_the_os() is True

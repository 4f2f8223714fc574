"""Errors nobody foresaw still end as one line: user situations exit 2, bugs exit 1."""

from __future__ import annotations

import errno

from forgetlab.cli import describe_unexpected
from forgetlab.errors import one_line


def test_out_of_memory_is_the_users_situation() -> None:
    cpu = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
        "you tried to allocate 8000000000000 bytes. Error code 12 (Cannot allocate memory)"
    )
    for exc in (cpu, MemoryError()):
        msg, code = describe_unexpected(exc)
        assert code == 2 and msg.startswith("out of memory") and "batch size" in msg


def test_file_system_errors_name_the_file() -> None:
    exc = PermissionError(errno.EACCES, "Permission denied", "/root/x/run")
    assert describe_unexpected(exc) == ("Permission denied: /root/x/run", 2)


def test_anything_else_is_a_bug_with_a_way_to_see_the_traceback() -> None:
    msg, code = describe_unexpected(KeyError("tokens"))
    assert code == 1 and "bug" in msg and "FORGETLAB_DEBUG=1" in msg and "KeyError" in msg


def test_one_line_keeps_wrapped_sentences_whole() -> None:
    exc = OSError(
        "Can't load the model for 'x'. If you were trying to load it\nfrom the hub, make sure"
    )
    assert one_line(exc) == (
        "Can't load the model for 'x'. If you were trying to load it from the hub, make sure"
    )
    first = "A long first sentence " + "with many words " * 15 + "ends here."
    long = ValueError(first + " " + "word " * 200)
    assert one_line(long) == first
    assert one_line(ValueError("a " * 300), limit=50).endswith(" …")

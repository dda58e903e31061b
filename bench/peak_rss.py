"""``python -m bench.peak_rss OUT MODULE [ARGS...]``: run MODULE as ``python -m`` would, then
write this process's peak resident memory, in bytes, to the file OUT.

The peak is the kernel's high-water mark of the process's own address space (``VmHWM`` in
``/proc/self/status``), which starts afresh at ``exec``. ``ru_maxrss`` from ``wait4`` does not:
Linux carries the parent's resident size at fork into the child's figure, so a child of a
benchmark that already holds several models would report the parent's memory, not its own.
"""

from __future__ import annotations

import atexit
import resource
import runpy
import sys
from pathlib import Path


def peak_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: bytes on macOS


def main() -> None:
    out, module, *args = sys.argv[1:]
    atexit.register(lambda: Path(out).write_text(str(peak_bytes())))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

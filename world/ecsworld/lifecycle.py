"""Process lifetime shared by the world and the proxy: both die with the test that started them."""

import os
import select
import sys


def watch_stdin(stop):
    """Set `stop` when stdin reaches EOF (the parent process closed it, or died)."""
    fd = sys.stdin.fileno()
    while not stop.is_set():
        try:
            readable, _, _ = select.select([fd], [], [], 0.2)
        except (OSError, ValueError):
            break
        if readable:
            try:
                if not os.read(fd, 4096):
                    break
            except OSError:
                break
    stop.set()

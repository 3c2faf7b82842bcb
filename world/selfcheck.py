"""What the world's self-checks share: named steps, checks, and the tally."""

import time

PASSED = []


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def step(name):
    def deco(fn):
        def run(*args, **kwargs):
            t0 = time.monotonic()
            result = fn(*args, **kwargs)
            PASSED.append(name)
            print(f"ok   {name} ({time.monotonic() - t0:.1f} s)", flush=True)
            return result

        return run

    return deco

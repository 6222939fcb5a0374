"""Progress of long runs: a tqdm bar on a terminal, nothing at all when the stream is not one."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(description: str, *, stream: IO[str] | None = None,
                 enabled: bool | None = None) -> Iterator[Callable[[int, int], None] | None]:
    """Yield ``update(done, total)`` drawing a bar on ``stream`` (stderr), or None when it is not a tty.

    ``enabled`` overrides the tty test. The bar is closed on exit, also on an
    exception, so the terminal line is left clean.
    """
    stream = sys.stderr if stream is None else stream
    if enabled is None:
        enabled = bool(getattr(stream, "isatty", lambda: False)())
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bars: list[Any] = []  # made at the first update, when the total is known

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=description, total=total, unit="case", file=stream, leave=False,
                             dynamic_ncols=True))
        bar = bars[0]
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)
        if done == total:
            bar.refresh()  # tqdm throttles redraws; the last one always shows

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()

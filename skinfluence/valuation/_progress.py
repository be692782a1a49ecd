"""Progress reporting: a tqdm bar when tqdm is installed, plain lines otherwise."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Progress of ``total`` units of work; silent unless ``enabled``.

    Parameters
    ----------
    total : int
        Units expected (the bar may stop early).
    desc : str
        Label.
    enabled : bool
        Report at all.
    every : float, default=5.0
        Seconds between plain-text lines when tqdm is missing.
    """

    def __init__(self, total: int, desc: str, enabled: bool, every: float = 5.0):
        self.total, self.desc, self.enabled, self.every = total, desc, enabled, every
        self.done = 0
        self._bar = None
        self._last = time.perf_counter()
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            print(f"[{desc}] 0/{total}", file=sys.stderr, flush=True)
        else:
            self._bar = tqdm(total=total, desc=desc, leave=False)

    def update(self, k: int, note: str = "") -> None:
        """Advance by ``k`` units; ``note`` is shown beside the count."""
        self.done += k
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(k)
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            return
        now = time.perf_counter()
        if now - self._last >= self.every or self.done >= self.total:
            self._last = now
            print(f"[{self.desc}] {self.done}/{self.total} {note}", file=sys.stderr, flush=True)

    def close(self, note: str = "") -> None:
        """Finish the bar (or print the last line)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        print(f"[{self.desc}] done: {self.done}/{self.total} {note}", file=sys.stderr, flush=True)

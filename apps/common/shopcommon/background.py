"""A chore every worker of a service runs in the background, on its own schedule."""

import logging
import threading

from flask import Flask

log = logging.getLogger("shop")


def every(app: Flask, seconds: float, chore, name: str) -> threading.Thread | None:
    """Run ``chore()`` in ``app``'s context every ``seconds``, in a daemon thread, for the life of
    the process; a failing round is logged and the next one tries again. Not under ``TESTING``:
    tests call the chore themselves, when they mean to."""
    if app.config.get("TESTING") or seconds <= 0:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(seconds):
            try:
                with app.app_context():
                    chore()
            except Exception:  # noqa: BLE001  (a round that fails must not end the loop)
                log.exception(f"{name} failed; trying again in {seconds:g}s")

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    app.extensions[f"background.{name}"] = stop
    return thread

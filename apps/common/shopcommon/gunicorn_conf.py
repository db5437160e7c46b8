"""gunicorn's settings module for every service (``gunicorn -c python:shopcommon.gunicorn_conf``,
meshctl/launch.py): the master's hooks that keep request metrics whole across its workers
(``shopcommon.metrics``: the multiprocess folder emptied at start, a dead worker's values dropped).
"""

from shopcommon.metrics import child_exit, on_starting  # noqa: F401  (gunicorn looks them up by name)

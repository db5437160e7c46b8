"""The benchmark behind `make bench`: the running local mesh under wrk (see ``run.py``)."""

"""Contract tests: the simulator's default answers against the real providers' published shapes.

Each module starts its own simulator on a free port (xdist-safe) with the simulator's
defaults, which are meant to be what the real services do today; only the server-side
rate limits are off where a test is not about them (the ``sim`` and ``client`` fixtures of
``crawl_pipeline_tests/conftest.py``). Constants are in ``support.py``.
"""

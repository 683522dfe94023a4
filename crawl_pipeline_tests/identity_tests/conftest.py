import pytest

from crawl_pipeline.simulator.testing import start_simulator


@pytest.fixture(scope="module")
def simulator():
    with start_simulator(rate_limits={"enabled": False}) as sim:
        yield sim

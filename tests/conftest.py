from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = DATA / "real-kernel"


@pytest.fixture(scope="session")
def real_dir():
    return REAL

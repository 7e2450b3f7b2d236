"""Shared fixtures: the real data beside the repo (../shared/data) and tiny model configs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def data_dir(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.is_dir():
        pytest.fail(f"real test data missing: {path} (the tests expect ../shared/data beside the repo)")
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes-long statistical checks, left out of `make test` "
                                       "(run them with `make test-slow`)")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def shoes() -> Path:
    return data_dir("edges2shoes")


TINY = dict(ngf=8, nef=8, ndf=8)

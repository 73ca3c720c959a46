"""Fixtures shared by the Spark tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def first_customers_folder(business, tmp_path_factory) -> Callable[[int, str], Path]:
    """Write the tables of the sample business's first ``n`` customers (by id) as Parquet."""
    from predictor.io import write_tables

    def write(n: int, name: str) -> Path:
        ids = sorted(business.tables.customers["customer_id"])[:n]
        folder = tmp_path_factory.mktemp(name) / "data"
        write_tables(business.tables.subset(ids), folder, fmt="parquet")
        return folder

    return write

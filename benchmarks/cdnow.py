"""Load the CDNOW data set (Fader & Hardie) as the contract's ``customers`` and ``orders`` tables.

The files live in ``benchmarks/data/cdnow/`` (see the README there for source, licence and
citation). Both are whitespace separated with CRLF line endings:

* ``CDNOW_master.txt``: header, then ``customer_id date number_of_cds dollar_value``;
* ``CDNOW_sample.txt`` (the 1/10 sample of the papers): no header,
  ``master_id sample_id date number_of_cds dollar_value``.

Customer ids are the master file's zero-padded ids (``"00004"``), in both files, so a customer
of the sample has the same id as in the master file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data" / "cdnow"
FILES = {True: "CDNOW_sample.txt", False: "CDNOW_master.txt"}


def load_cdnow(
    path: str | Path = DATA_DIR, sample: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a CDNOW file and return ``(customers, orders)`` as contract tables.

    ``path`` is either the file itself or the folder holding it (then ``sample`` picks
    ``CDNOW_sample.txt`` or ``CDNOW_master.txt``); ``sample`` also selects the file layout.

    ``customers``: ``customer_id`` (str), ``signup_date`` (the first purchase date; CDNOW
    records customers from their first purchase). ``orders``: ``customer_id``, ``order_date``
    (``datetime64[ns]``, midnight), ``amount`` (``dollar_value``), ``items``
    (``number_of_cds``), one row per file row (same-day rows are kept; models merge them).
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILES[sample]
    if sample:
        names = ["customer_id", "sample_id", "date", "items", "amount"]
        header = None
    else:
        names = ["customer_id", "date", "items", "amount"]
        header = 0
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=header,
        names=names,
        dtype={"customer_id": str, "sample_id": str, "date": str},
    )
    orders = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(str).str.strip(),
            "order_date": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
            "amount": raw["amount"].astype("float64"),
            "items": raw["items"].astype("int64"),
        }
    )
    orders = orders.sort_values(["customer_id", "order_date"], kind="stable").reset_index(drop=True)
    customers = (
        orders.groupby("customer_id", sort=True)["order_date"]
        .min()
        .rename("signup_date")
        .reset_index()
    )
    return customers, orders

"""The file edge: read the input tables, write outputs atomically, load the configuration.

Everything that touches the file system lives in this package, so the core
(``contract.validate``, ``features``, ``modeling``) stays pure. Problems with the user's files
raise ``ContractError`` naming the file; problems with the configuration raise ``ConfigError``
naming the setting. The modules:

- ``formats``: which files are tables (suffixes), CSV separators and headers, decimals;
- ``files``: one table source read as is (a file, or a folder of part files);
- ``tables``: finding the tables, the column mapping, ``load_tables`` (read, then validate);
- ``chunks``: large Parquet inputs read chunk by chunk of customers (``open_customer_chunks``);
- ``atomic``: atomic writers of frames and text; ``jsonfile``: strict JSON of results;
- ``config_files``: ``load_config`` (YAML files and overrides) and ``ConfigError``.

A table is one file or a folder of part files (what Spark, Snowflake ``COPY INTO``, DuckDB
``COPY ... PARTITION_BY`` write): every Parquet, CSV or ``.csv.gz`` file under it, in
``key=value`` (hive) sub-folders too, whose name does not start with ``_`` or ``.`` (so
``_SUCCESS``, ``.crc`` and ``_delta_log`` are skipped). Folders are read through
``pyarrow.dataset``; a hive key becomes a text column. Only the contract's columns of event
tables are read (every column of ``customers``, whose extra columns are attributes). Column
names are matched to the contract's ignoring case, after the column mapping
(``contract.columns``); decimals are read as numbers.

CSV files are read with every column as text (``dtype=str``), and only empty cells count as
missing at this stage: typing is left to ``contract.validate``, so that pandas never guesses
(ids such as ``"007"`` keep their zeros, a country code ``"NA"`` stays a string). The
separator (``,``, ``;``, tab or ``|``) is detected from the header line; files must be UTF-8
(a byte-order mark is fine).
"""

from predictor.io.atomic import (
    AtomicFrameWriter,
    write_frame_atomic,
    write_tables,
    write_text_atomic,
)
from predictor.io.chunks import SPILL_BATCH_ROWS, CustomerChunks, open_customer_chunks
from predictor.io.config_files import ConfigError, load_config
from predictor.io.files import read_table_file, table_columns
from predictor.io.formats import TABLE_SUFFIXES
from predictor.io.jsonfile import write_json_atomic
from predictor.io.tables import date_rules, find_table_files, load_tables, read_raw_tables

__all__ = [
    "SPILL_BATCH_ROWS",
    "TABLE_SUFFIXES",
    "AtomicFrameWriter",
    "ConfigError",
    "CustomerChunks",
    "date_rules",
    "find_table_files",
    "load_config",
    "load_tables",
    "open_customer_chunks",
    "read_raw_tables",
    "read_table_file",
    "table_columns",
    "write_frame_atomic",
    "write_json_atomic",
    "write_tables",
    "write_text_atomic",
]

"""Fast look-ups of customer ids in large event tables (Arrow hash joins, not Python sets).

Missing ids never match anything (not even a missing id on the other side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrays(ids: pd.Index | pd.Series, keys: pd.Series) -> tuple[pa.Array, pa.Array]:
    """``keys`` and ``ids`` as Arrow arrays of one type (the keys' type)."""
    arr = pa.array(keys)
    value_set = pa.array(ids)
    if value_set.type != arr.type:
        value_set = value_set.cast(arr.type)
    return arr, value_set


def positions(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each key in ``ids`` (``-1`` when absent), via Arrow's hash join (fast on strings).

    Ids written as a fixed prefix and a fixed number of decimal digits (``C0000001``) take a
    faster, equivalent path (``_numbered_positions``).
    """
    found = _numbered_positions(ids, keys)
    return _hash_positions(ids, keys) if found is None else found


def _hash_positions(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """``positions`` by Arrow's hash join (any ids); pandas' ``get_indexer`` for odd types."""
    try:
        arr, value_set = _arrays(ids, keys)
        found = pc.index_in(arr, value_set=value_set, skip_nulls=True)
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError):
        found = pd.Index(ids).get_indexer(keys)
        return np.where(pd.isna(np.asarray(keys, dtype=object)), -1, found).astype(np.int64)


def contains(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray:
    """Whether each key is one of ``ids`` (a fast ``keys.isin(ids)``)."""
    return positions(ids, keys) >= 0


# ---- ids made of a fixed prefix and fixed-width decimal digits --------------------------------
#
# Looking 41 million event rows up among 1,000,000 customer ids in Arrow's hash table costs about
# 4 s: every row misses the CPU caches. Ids such as ``C0000001`` (one prefix, then a fixed number
# of digits, at most 8 bytes in all) are numbers in disguise: each row's bytes are read as one
# 64-bit word, checked (same length, same prefix, digits only) and turned into its number with a
# few word-wide operations, and a table indexed by that number gives the customer's position.
# Any id or key outside that form makes ``positions`` use the hash join instead, so the result
# is always the same.

_BLOCK = 1 << 17
"""Keys are converted in blocks of this many rows, so the temporaries stay in the CPU caches."""
_TABLE_PER_ID = 16
"""The number-to-position table may hold at most this many entries per id (else: hash join)."""
_REACHED_TABLE_MAX = 1 << 22
"""``NumberedBounds`` looks numbers up in a table when the last bound's is below this."""
_ZEROS = 0x3030303030303030
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)
_ALL_DIGITS = np.uint64(0x3333333333333333)


@dataclass(frozen=True)
class _Form:
    """The shape shared by every customer id: byte length, prefix bytes, digits after them."""

    width: int
    prefix: int
    prefix_bytes: int

    def words(self, data: pa.Array) -> np.ndarray | None:
        """Each value's bytes as one little-endian ``uint64`` (None unless all have ``width``)."""
        if data.null_count or not len(data):
            return None if data.null_count else np.zeros(0, dtype=np.uint64)
        offsets, chars = string_buffers(data)
        if not (np.diff(offsets) == self.width).all():
            return None
        first = int(offsets[0])
        raw = chars[first : first + self.width * len(data)]
        if self.width == 8:
            return raw.view("<u8")
        padded = np.zeros((len(data), 8), dtype=np.uint8)
        padded[:, : self.width] = raw.reshape(len(data), self.width)
        return padded.reshape(-1).view("<u8")

    def numbers(self, words: np.ndarray) -> np.ndarray:
        """The decimal number after the prefix; ``-1`` where a word is not prefix + digits."""
        shift = np.uint64(8 * (8 - self.width))
        digits_at = 8 * (8 - self.width + self.prefix_bytes)  # bits below the digits, < 64
        keep = np.uint64(~((1 << digits_at) - 1) & 0xFFFFFFFFFFFFFFFF)
        fill = np.uint64(_ZEROS & ((1 << digits_at) - 1))
        w = ((words << shift) & keep) | fill  # byte 0 is the most significant digit
        ok = ((w & _HIGH_NIBBLES) | (((w + _SIXES) & _HIGH_NIBBLES) >> np.uint64(4))) == _ALL_DIGITS
        if self.prefix_bytes:
            mask = np.uint64((1 << (8 * self.prefix_bytes)) - 1)
            ok &= (words & mask) == np.uint64(self.prefix)
        w = ((w & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
        w = ((w & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
        w = ((w & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
        return np.where(ok, w.astype(np.int64), -1)


def string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A ``string`` or ``large_string`` array's value offsets and its bytes, without a copy.

    The offsets are the array's own slice (``len + 1`` of them; value ``i`` is
    ``chars[offsets[i]:offsets[i + 1]]``); ``chars`` is the whole data buffer (empty when the
    array has none).
    """
    _, offsets_buf, data_buf = chunk.buffers()
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    chars = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, chars


def arrow_strings(values: pd.Index | pd.Series) -> pa.ChunkedArray | None:
    """The Arrow string chunks behind an Arrow-backed text column or index, without a copy.

    ``None`` for any other storage (object, NumPy, string views), so callers fall back to pandas.
    """
    array = values.array
    if not isinstance(array, pd.arrays.ArrowStringArray):
        return None
    data = array.__arrow_array__()
    if isinstance(data, pa.Array):
        data = pa.chunked_array([data])
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return None
    return data


def _form_of(ids: pa.Array) -> _Form | None:
    """The prefix-and-digits form every id follows, None when they do not share one."""
    if not len(ids) or ids.null_count:
        return None
    first = ids[0].as_py().encode()
    width = len(first)
    digits = len(first) - len(first.rstrip(b"0123456789"))
    if not 1 <= width <= 8 or not digits:
        return None
    head = first[: width - digits]
    return _Form(width, int.from_bytes(head, "little"), len(head))


@dataclass(frozen=True)
class NumberedBounds:
    """Sorted prefix-and-digits ids (chunk bounds) as numbers, made once for many batches.

    Ids of one width, one prefix and digits after it compare as text exactly as their numbers
    compare, so a binary search of the numbers places each id among the bounds as comparing
    the texts would.
    """

    form: _Form
    numbers: np.ndarray
    table: np.ndarray | None = None
    """Bounds reached by each number up to the last bound's (the last entry: every larger
    number); None when that table would be large or the count not fit in 16 bits."""

    @classmethod
    def of(cls, bounds: pa.Array | pa.ChunkedArray) -> NumberedBounds | None:
        """The bounds as numbers; None unless every bound has the first one's form."""
        if isinstance(bounds, pa.ChunkedArray):
            bounds = bounds.combine_chunks()
        form = _form_of(bounds)
        numbers = None if form is None else _as_numbers(form, bounds)
        if form is None or numbers is None:
            return None
        table = None
        top = int(numbers.max()) if len(numbers) else 0
        if top < _REACHED_TABLE_MAX and len(numbers) < np.iinfo(np.int16).max:
            table = np.searchsorted(numbers, np.arange(top + 2), side="right").astype(np.int16)
        return cls(form, numbers, table)

    def reached(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
        """How many bounds each id reaches (``>=`` as text); None unless all have the form.

        A look-up in ``table`` when there is one: a binary search per row was a tenth of
        splitting the input into chunks at 1,000,000 customers (issue 19); the same counts.
        """
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        numbers = _as_numbers(self.form, values)
        if numbers is None:
            return None
        if self.table is not None:
            np.minimum(numbers, len(self.table) - 1, out=numbers)
            return self.table[numbers].astype(np.int64)
        return np.searchsorted(self.numbers, numbers, side="right").astype(np.int64)


def _as_numbers(form: _Form, data: pa.Array) -> np.ndarray | None:
    """Every value's number; None when any is missing or not of ``form``."""
    words = form.words(data)
    numbers = None if words is None else form.numbers(words)
    return None if numbers is None or (numbers < 0).any() else numbers


def _numbered_positions(ids: pd.Index | pd.Series, keys: pd.Series) -> np.ndarray | None:
    """``positions`` for prefix-and-digits ids by a number-indexed table; None if not such ids."""
    numbered = _NumberedIds.of(ids)
    return None if numbered is None else numbered.positions(keys)


@dataclass(frozen=True)
class _NumberedIds:
    """Prefix-and-digits ids made ready for look-ups: their form and number-to-position table."""

    form: _Form
    ids: pa.Array
    table: np.ndarray
    """Position of each number (``-1``: none); its last entry answers every miss."""
    count: int
    low: int
    consecutive: bool
    """Ids numbered ``low, low + 1, ...`` in order: position = number - ``low``."""

    @classmethod
    def of(cls, ids: pd.Index | pd.Series) -> _NumberedIds | None:
        """The ids ready for look-ups; None unless all share one form, without duplicates."""
        id_data = arrow_strings(pd.Index(ids))
        if id_data is None:
            return None
        id_array = id_data.combine_chunks()
        form = _form_of(id_array)
        numbers = None if form is None else _as_numbers(form, id_array)
        if form is None or numbers is None:
            return None
        size = int(numbers.max()) + 1 if len(numbers) else 0
        if size > _TABLE_PER_ID * len(numbers) + _BLOCK:
            return None
        table = np.full(size + 1, -1, dtype=np.int64)
        table[numbers] = np.arange(len(numbers))
        if (np.bincount(numbers, minlength=size) > 1).any():
            return None  # duplicate ids: leave the first-match rule to the hash join
        low = int(numbers[0]) if len(numbers) else 0
        consecutive = bool((np.diff(numbers) == 1).all())
        return cls(form, id_array, table, len(numbers), low, consecutive)

    def positions(self, keys: pd.Series) -> np.ndarray | None:
        """Each key's position among the ids (``-1``: absent); None unless keys are Arrow text."""
        key_data = arrow_strings(keys)
        if key_data is None:
            return None
        size = len(self.table) - 1
        out = np.empty(len(key_data), dtype=np.int64)
        start = 0
        for chunk in key_data.chunks:
            for begin in range(0, len(chunk), _BLOCK):
                block = chunk.slice(begin, _BLOCK)
                key_words = self.form.words(block)
                found = out[start : start + len(block)]
                if key_words is None:  # keys of other lengths or missing: this block by hash join
                    value_set = self.ids.cast(block.type)
                    hits = pc.index_in(block, value_set=value_set, skip_nulls=True)
                    found[:] = hits.fill_null(-1).to_numpy(zero_copy_only=False)
                elif self.consecutive:
                    _consecutive_positions(
                        self.form.numbers(key_words), self.low, self.count, found
                    )
                else:
                    number = self.form.numbers(key_words)
                    number[(number < 0) | (number >= size)] = size
                    np.take(self.table, number, out=found)
                start += len(block)
        return out


class KeyIndex:
    """``positions`` among one set of ids, made ready once for many batches of keys.

    Validating an input batch by batch looks every batch up among the same customer ids; the
    number table of prefix-and-digits ids (or, for other ids, their Arrow array) is built on
    the first look-up instead of once per batch (issue 19). The same results as ``positions``.
    """

    def __init__(self, ids: pd.Index | pd.Series) -> None:
        self.ids = ids
        self._numbered: _NumberedIds | None | bool = False
        """``False`` until the first look-up, then the prepared ids or None (not numbered)."""

    def positions(self, keys: pd.Series) -> np.ndarray:
        """Position of each key among the ids (``-1`` when absent or missing)."""
        if self._numbered is False:
            self._numbered = _NumberedIds.of(self.ids)
        found = None if self._numbered is None else self._numbered.positions(keys)
        return _hash_positions(self.ids, keys) if found is None else found


def _consecutive_positions(number: np.ndarray, low: int, n: int, out: np.ndarray) -> None:
    """Write into ``out`` each key's position among ids numbered ``low .. low + n - 1`` in order.

    The position is the number minus ``low``; ``-1`` for a number outside the ids (or ``-1``,
    a key not of the ids' form). The same as the table look-up, without its random reads.
    """
    np.subtract(number, low, out=out)
    out[(number < low) | (number >= low + n)] = -1

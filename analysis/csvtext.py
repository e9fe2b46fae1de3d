"""Text cells as a spreadsheet reads them. A cell that starts with `=`, `+`, `-` or `@` (or a tab
or a carriage return) is a formula to Excel, LibreOffice and Sheets, so an exception's message
such as `=HYPERLINK(...)` in results.csv would run; a leading `'` makes it text (OWASP's rule for
CSV injection). Only text columns are touched: -1.5 in a number column stays a number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA = r"^[=+\-@\t\r]"  # the same, for pyarrow


def safe_table(table: pa.Table) -> pa.Table:
    """`table` with every text cell that a spreadsheet would take for a formula made text."""
    for i, column in enumerate(table.schema):
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and risky(table.column(i)):
            values = table.column(i)
            quote, empty = pa.scalar("'", column.type), pa.scalar("", column.type)
            quoted = pc.binary_join_element_wise(quote, values, empty)
            table = table.set_column(i, column, pc.if_else(pc.match_substring_regex(values, FORMULA), quoted, values))
    return table


def risky(values: pa.ChunkedArray) -> bool:
    """Whether any cell of a text column starts like a formula. Its distinct values are checked, not
    its cells: a column of a million rows holds few, and rewriting every column took seconds."""
    return pc.any(pc.match_substring_regex(pc.unique(values), FORMULA)).as_py() is True


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The same for a DataFrame's text columns."""
    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name]):
            text = frame[name]
            risky = formula_cells(text)
            if risky.any():
                frame[name] = text.where(~risky, "'" + text.astype("string"))
    return frame


def formula_cells(text: pd.Series) -> np.ndarray:
    """Per cell, whether it is text a spreadsheet would take for a formula: each distinct value is
    checked once (a lambda per cell took most of a second over trend.csv's rows)."""
    codes, uniques = pd.factorize(text)  # a missing cell: code -1, the False appended
    starts = [isinstance(v, str) and v.startswith(STARTS) for v in uniques]
    return np.array([*starts, False], dtype=bool)[codes]

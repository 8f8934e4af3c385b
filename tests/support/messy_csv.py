"""A messy but valid sales export, written by the tests themselves: what a real user uploads.

UTF-8 with a BOM, CRLF line endings, US dates with a time (`2/24/2023 0:00`), amounts with a
currency sign and thousands separators in quoted fields, category names with spaces, a comma and
non-ASCII letters, one that looks like a spreadsheet formula, and a notes column full of formulas.
Column names differ from the configured ones, so the upload has to detect them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

MESSY_CATEGORIES = ("Café Crème", "Home, Garden & Patio", "=1+1 Gifts")
MESSY_COLUMNS = ("Order ID", "Order Date", "Dept", "Qty", "Net Sales", "Note")
MESSY_START = date(2024, 1, 1)


def messy_csv_text(days: int = 200, seed: int = 3) -> str:
    """The file's text (before encoding): one to three orders per category and day."""
    rng = np.random.default_rng(seed)
    lines = [",".join(MESSY_COLUMNS)]
    order = 1000
    for offset in range(days):
        day = MESSY_START + timedelta(days=offset)
        stamp = f"{day.month}/{day.day}/{day.year} 0:00"
        for index, category in enumerate(MESSY_CATEGORIES):
            weekly = 1.0 + 0.5 * np.sin(2 * np.pi * (offset % 7) / 7)
            for _ in range(int(rng.integers(1, 4))):
                order += 1
                amount = float(rng.gamma(4.0, 300.0 * (index + 1) * weekly))
                note = '"=HYPERLINK(""http://example.invalid"",""x"")"' if order % 5 == 0 else "@SUM(A1)"
                quoted = category.replace('"', '""')
                lines.append(f'{order},{stamp},"{quoted}",{int(rng.integers(1, 9))},"${amount:,.2f}",{note}')
    return "\r\n".join(lines) + "\r\n"


def write_messy_csv(path: Path, days: int = 200, seed: int = 3) -> Path:
    """Write the messy export (BOM + UTF-8) to `path`."""
    path.write_bytes(b"\xef\xbb\xbf" + messy_csv_text(days, seed).encode("utf-8"))
    return path

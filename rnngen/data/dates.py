"""The ``dates`` built-in corpus: dates as people write them ("the 3rd of march, 2001", "sat 3 mar
2001", "3/3/2001") paired with their ISO 8601 form ("2001-03-03"), one ``source<TAB>target`` pair
per line: a sequence-to-sequence task that needs no download and that a model learns in minutes
on a laptop (the classic demonstration of attention: the decoder must find the year, the month
and the day wherever the format put them).

Deterministic (``random.Random`` with fixed seeds, the formats and names written here, no locale).
Dates run from 1900-01-01 to 2099-12-31 and are split by a hash of the date, so no test or
validation date appears in training in any format: the test measures reading dates never seen.
"""

import datetime
import hashlib
import random

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# the ways of writing a date: {d} 3, {dd} 03, {od} 3rd, {m} 3, {mm} 03, {month} march, {mon} mar,
# {weekday} saturday, {dy} sat, {y} 2001
FORMATS = (
    "{d} {month} {y}",
    "{month} {d}, {y}",
    "{month} {d} {y}",
    "{month} {od}, {y}",
    "{od} {month} {y}",
    "{od} of {month} {y}",
    "the {od} of {month}, {y}",
    "{weekday}, {month} {d}, {y}",
    "{weekday} {d} {month} {y}",
    "{weekday}, the {od} of {month} {y}",
    "{dy} {d} {mon} {y}",
    "{dy}, {mon} {d}, {y}",
    "{mon} {d} {y}",
    "{d} {mon} {y}",
    "{d}-{mon}-{y}",
    "{m}/{d}/{y}",
    "{mm}/{dd}/{y}",
    "{dd}.{mm}.{y}",
    "{d}.{m}.{y}",
    "{y}-{mm}-{dd}",
    "{y}/{mm}/{dd}",
    "{y}{mm}{dd}",
)

FIRST, LAST = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
SIZES = {"train": 40_000, "valid": 1_000, "test": 1_000}  # pairs per split


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def written(date: datetime.date, fmt: str, case: str) -> str:
    """``date`` written in ``fmt``: in lower case, upper case, or (``title``) with capitalised
    names of months and days and a capital first letter ("The 3rd of March, 2001")."""
    month, weekday = MONTHS[date.month - 1], WEEKDAYS[date.weekday()]
    if case == "title":
        month, weekday = month.title(), weekday.title()
    text = fmt.format(
        d=date.day,
        dd=f"{date.day:02d}",
        od=ordinal(date.day),
        m=date.month,
        mm=f"{date.month:02d}",
        month=month,
        mon=month[:3],
        weekday=weekday,
        dy=weekday[:3],
        y=date.year,
    )
    if case == "upper":
        return text.upper()
    return text[:1].upper() + text[1:] if case == "title" else text


def split_of(date: datetime.date) -> str:
    """The split a date belongs to, by a hash of it: 2% of days test, 2% valid, the rest train."""
    bucket = hashlib.blake2b(date.isoformat().encode(), digest_size=4).digest()[0] % 50
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def build_dates() -> dict[str, str]:
    """The corpus: split name -> its lines, ``written<TAB>YYYY-MM-DD``."""
    days = [FIRST + datetime.timedelta(n) for n in range((LAST - FIRST).days + 1)]
    by_split: dict[str, list[datetime.date]] = {name: [] for name in SIZES}
    for day in days:
        by_split[split_of(day)].append(day)
    out = {}
    for seed, (name, size) in enumerate(SIZES.items()):
        rng = random.Random(2026 + seed)
        pool, lines = by_split[name], []
        for _ in range(size):
            date = pool[rng.randrange(len(pool))]
            fmt = FORMATS[rng.randrange(len(FORMATS))]
            case = ("lower", "lower", "title", "upper")[rng.randrange(4)]
            lines.append(f"{written(date, fmt, case)}\t{date.isoformat()}\n")
        out[name] = "".join(lines)
    return out

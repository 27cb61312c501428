"""Argument checks shared by corun's public functions.

Every check names the function and the argument in its message. Wrong types
raise TypeError (Python's convention, and bool is not accepted as a number);
values of the right type outside what the C++ side can hold or what means
anything raise ValueError.
"""

import collections.abc as _abc
import math as _math

# The C++ types the values end up in (docs/python.md "Arguments").
INT_MAX = 2**31 - 1  # int (retries, max_redirects) and the counting semaphores' int
SIZE_MAX = 2**63 - 1  # byte sizes (std::size_t, kept clear of signed conversions)
# Durations become nanoseconds of the loop's clock (64-bit): beyond about 292
# years they overflow; a billion seconds (31 years) is the bound kept.
SECONDS_MAX = 1e9


def type_error(func, name, what, value):
    return TypeError(f"{func}() argument '{name}' must be {what}, not {type(value).__name__}")


def check_str(func, name, value, *, none=False):
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise type_error(func, name, "str" + (" or None" if none else ""), value)
    return value


def check_int(func, name, value, *, none=False, minimum=0, maximum=INT_MAX, meaning=""):
    """An int in [minimum, maximum]; meaning (e.g. "0 = no limit") goes into the message."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(func, name, "int" + (" or None" if none else ""), value)
    if value < minimum or value > maximum:
        extra = f"; {meaning}" if meaning else ""
        raise ValueError(f"{func}() argument '{name}' must be between {minimum} and {maximum}"
                         f"{extra}, got {value}")
    return value


def check_bool(func, name, value, *, none=False):
    if value is None and none:
        return None
    if not isinstance(value, bool):
        raise type_error(func, name, "bool" + (" or None" if none else ""), value)
    return value


def check_number(func, name, value, *, none=False, minimum=0.0, maximum=SECONDS_MAX,
                 what="a number", unit=""):
    """A finite int or float in [minimum, maximum], as a float."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_error(func, name, what + (" or None" if none else ""), value)
    if isinstance(value, float) and not _math.isfinite(value):
        raise ValueError(f"{func}() argument '{name}' must be a finite number, got {value}")
    if value < minimum or value > maximum:
        raise ValueError(f"{func}() argument '{name}' must be between {minimum:g} and "
                         f"{maximum:g}{unit}, got {value}")
    return float(value)


def check_range(func, name, value, limits, *, none=False, minimum=None, what=None):
    """A number the C++ side's range accepts: limits is an entry of
    _corun._numeric_ranges (corun::fetch::kNumericRanges), (integer, min, max,
    zero, unit), where zero, when not empty, says what 0 means (0 is then
    accepted outside [min, max]). minimum, when given, replaces min (for a
    value the engine checks itself when the run starts). An int for a whole
    number range, an int or float otherwise (returned as float)."""
    integer, low, high, zero, unit = limits
    if minimum is not None:
        low = minimum
    if value is None and none:
        return None
    kind = what or ("int" if integer else "a number")
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise type_error(func, name, kind + (" or None" if none else ""), value)
    if isinstance(value, float) and not _math.isfinite(value):
        raise ValueError(f"{func}() argument '{name}' must be a finite number, got {value}")
    if (value == 0 and zero) or low <= value <= high:
        return value if integer else float(value)
    shown = f"{low} and {high}" if integer else f"{low:g} and {high:g}"
    unit_text = f" {unit}" if unit else ""
    zero_text = f"0 ({zero}) or " if zero else ""
    raise ValueError(f"{func}() argument '{name}' must be {zero_text}between {shown}{unit_text}, "
                     f"got {value}")


def check_seconds(func, name, value, *, none=True):
    return check_number(func, name, value, none=none, what="a number of seconds",
                        unit=" seconds")


def check_url(func, name, value):
    if isinstance(value, str):
        return value
    if type(value).__name__ == "URL" and type(value).__module__.startswith("yarl"):
        return str(value)
    raise type_error(func, name, "str", value)


def header_list(func, name, value):
    """None, a mapping or (name, value) pairs -> a list of (str, str)."""
    if value is None:
        return []
    if isinstance(value, _abc.Mapping):
        pairs = value.items()
    elif isinstance(value, (list, tuple)):
        pairs = value
    else:
        raise type_error(func, name, "a mapping or a list of (name, value) pairs", value)
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], str)):
            raise TypeError(f"{func}() argument '{name}' must hold (str, str) pairs, got {pair!r}")
        out.append(pair)
    return out

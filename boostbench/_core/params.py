"""Declared parameter constraints: one declaration validates, parses and tests a parameter.

A component declares the type and range of each parameter once, as scikit-learn
does in ``utils/_param_validation.py``::

    @dataclass(frozen=True)
    @declare(k=Interval(int, 1, None), mode=Options("closed", "replay"))
    class Thing:
        k: int = 10
        mode: str = "closed"

The same :class:`Constraint` then

- validates the dataclass at construction (:func:`declare` adds the check in front
  of ``__post_init__``), with one message template: ``The 'k' parameter of Thing
  must be an int in [1, inf). Got 0 instead.``;
- parses a command-line or pytest option (:meth:`Constraint.parse`), so the CLI
  states the real range;
- lists invalid values (:meth:`Constraint.invalid_values`) for the generated
  invalid-input tests.

Relations between parameters (``horizon_hours >= attack_hours``) stay in the
component's own ``__post_init__``, which runs after the declared checks.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from ..errors import InvalidParameter

__all__ = ["Constraint", "Interval", "Options", "Boolean", "InstanceOf", "Satisfies", "SequenceOf",
           "OrNone",
           "declare", "params_of", "check_params", "check_int", "check_real", "check_choice",
           "SEED", "SEED_COUNT", "SeedList", "parse_seeds"]


def _where(where: str) -> str:
    return f" of {where}" if where else ""


class Constraint:
    """What one parameter may be. Subclasses define :meth:`ok`, :meth:`describe`,
    :meth:`parse` and :meth:`invalid_values`."""

    def ok(self, value) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """The allowed values, as the message template says them ("an int in [1, inf)")."""
        raise NotImplementedError

    def coerce(self, value):
        """The value as the component stores it (an int for an int interval, ...)."""
        return value

    def check(self, name: str, value, where: str = ""):
        """Return ``value`` (coerced) or raise :class:`InvalidParameter` naming ``name``."""
        if not self.ok(value):
            raise InvalidParameter(f"The {name!r} parameter{_where(where)} must be "
                                   f"{self.describe()}. Got {value!r} instead.", name=name)
        return self.coerce(value)

    def parse(self, text: str):
        """A value from its text (a command-line option); raises :class:`InvalidParameter`
        (without a parameter name: the caller names the option) when it is not allowed."""
        value = self._from_text(str(text).strip())
        if value is _BAD or not self.ok(value):
            raise InvalidParameter(f"must be {self.describe()}. Got {text!r}.")
        return self.coerce(value)

    def _from_text(self, text: str):
        return text

    def invalid_values(self) -> list:
        """Values this constraint refuses (for generated invalid-input tests)."""
        raise NotImplementedError

    def invalid_texts(self) -> list[str]:
        """Option texts :meth:`parse` refuses."""
        return ["", "nan", "x"]


_BAD = object()


def _fmt(x) -> str:
    if x is None:
        return "inf"
    return f"{x:g}" if isinstance(x, float) else str(x)


class Interval(Constraint):
    """A number of ``kind`` (int or float) in an interval; None is an open end (inf).

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``. A real
    interval never admits NaN or inf.

    Examples
    --------
    >>> Interval(int, 1, None).describe()
    'an int in [1, inf)'
    >>> Interval(float, 0.0, 1.0, closed="neither").describe()
    'a finite real in (0, 1)'
    """

    def __init__(self, kind: type, low=None, high=None, *, closed: str = "both"):
        if kind not in (int, float):
            raise TypeError("Interval kind must be int or float")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed={closed!r}")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    @property
    def _low_open(self) -> bool:
        return self.low is None or self.closed in ("right", "neither")

    @property
    def _high_open(self) -> bool:
        return self.high is None or self.closed in ("left", "neither")

    def describe(self) -> str:
        left = "(" if self._low_open else "["
        right = ")" if self._high_open else "]"
        lo = "-inf" if self.low is None else _fmt(self.low)
        what = "an int" if self.kind is int else "a finite real"
        return f"{what} in {left}{lo}, {_fmt(self.high)}{right}"

    def ok(self, value) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int:
            if not isinstance(value, Integral):
                return False
            v = int(value)
        else:
            if not isinstance(value, Real):
                return False
            try:
                v = float(value)
            except OverflowError:            # an int beyond float's range
                return False
            if not math.isfinite(v):
                return False
        if self.low is not None and (v < self.low or (self._low_open and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self._high_open and v == self.high)):
            return False
        return True

    def coerce(self, value):
        return int(value) if self.kind is int else float(value)

    def _from_text(self, text: str):
        try:
            return int(text) if self.kind is int else float(text)
        except ValueError:
            return _BAD

    def invalid_values(self) -> list:
        out = [None, "1", True]
        if self.kind is int:
            out += [1.5, float("nan")]
        else:
            out += [float("nan"), float("inf"), float("-inf")]
        step = 1 if self.kind is int else max(1e-6, abs(self.low or 0) * 1e-6)
        if self.low is not None:
            out.append(self.low if self._low_open else self.kind(self.low - step))
        if self.high is not None:
            hstep = 1 if self.kind is int else max(1e-6, abs(self.high) * 1e-6)
            out.append(self.high if self._high_open else self.kind(self.high + hstep))
        return out

    def invalid_texts(self) -> list[str]:
        out = ["", "x", "nan", "inf"]
        if self.kind is int:
            out.append("1.5")
        if self.low is not None:
            out.append(str(self.low if self._low_open else self.kind(self.low - 1)))
        if self.high is not None:
            out.append(str(self.high if self._high_open else self.kind(self.high + 1)))
        return out


class Options(Constraint):
    """One of a fixed set of values (strings, usually).

    Examples
    --------
    >>> Options("closed", "replay").describe()
    "one of 'closed', 'replay'"
    """

    def __init__(self, *options):
        self.options = tuple(options)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def ok(self, value) -> bool:
        try:
            return value in self.options
        except TypeError:  # an unhashable or incomparable value
            return False

    def invalid_values(self) -> list:
        return [None, "no-such-option", 3.5]

    def invalid_texts(self) -> list[str]:
        return ["", "no-such-option"]


class Boolean(Constraint):
    """True or False (not 0/1, not a string)."""

    def describe(self) -> str:
        return "a bool"

    def ok(self, value) -> bool:
        return isinstance(value, bool)

    def _from_text(self, text: str):
        return {"true": True, "false": False, "1": True, "0": False}.get(text.lower(), _BAD)

    def invalid_values(self) -> list:
        return [None, 1, "yes"]

    def invalid_texts(self) -> list[str]:
        return ["", "maybe"]


class InstanceOf(Constraint):
    """An instance of a class (given by its name in messages)."""

    def __init__(self, cls: type, what: str | None = None):
        self.cls, self.what = cls, what or f"a {cls.__name__}"

    def describe(self) -> str:
        return self.what

    def ok(self, value) -> bool:
        return isinstance(value, self.cls)

    def invalid_values(self) -> list:
        return [None, object()]


class Satisfies(Constraint):
    """A value for which ``test(value)`` is true, described as ``what`` ("a ranker")."""

    def __init__(self, test, what: str):
        self.test, self.what = test, what

    def describe(self) -> str:
        return self.what

    def ok(self, value) -> bool:
        try:
            return bool(self.test(value))
        except Exception:  # a test that cannot judge the value refuses it
            return False

    def invalid_values(self) -> list:
        return [None, object()]


class SequenceOf(Constraint):
    """A tuple or list of values each meeting ``item``, of length in [min_len, max_len],
    optionally distinct and/or non-decreasing. Stored as a tuple.

    Examples
    --------
    >>> SequenceOf(Interval(int, 0, 7), min_len=1).describe()
    'a non-empty sequence of values each an int in [0, 7]'
    """

    def __init__(self, item: Constraint, *, min_len: int = 0, max_len: int | None = None,
                 distinct: bool = False, increasing: bool = False):
        self.item, self.min_len, self.max_len = item, min_len, max_len
        self.distinct, self.increasing = distinct, increasing

    def describe(self) -> str:
        size = ("a non-empty sequence" if self.min_len == 1 and self.max_len is None
                else f"a sequence of {self.min_len} to {_fmt(self.max_len)} values"
                if self.max_len != self.min_len else f"a sequence of {self.min_len} values")
        extra = (" (strictly increasing)" if self.distinct and self.increasing else
                 " (distinct)" if self.distinct else " (non-decreasing)" if self.increasing else "")
        return f"{size} of values each {self.item.describe()}{extra}"

    def ok(self, value) -> bool:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            return False
        try:
            items = list(value)
        except TypeError:
            return False
        if len(items) < self.min_len or (self.max_len is not None and len(items) > self.max_len):
            return False
        if not all(self.item.ok(v) for v in items):
            return False
        vals = [self.item.coerce(v) for v in items]
        if self.distinct and len(set(vals)) != len(vals):
            return False
        if self.increasing and any(b < a for a, b in zip(vals, vals[1:])):
            return False
        return True

    def coerce(self, value):
        return tuple(self.item.coerce(v) for v in value)

    def _from_text(self, text: str):
        parts = [p.strip() for p in text.split(",") if p.strip()]  # "5," is (5,)
        vals = [self.item._from_text(p) for p in parts]
        return _BAD if any(v is _BAD for v in vals) else vals

    def invalid_values(self) -> list:
        bad_item = next(v for v in self.item.invalid_values() if v is not None)
        out = [None, "abc", [bad_item]]
        if self.min_len:
            out.append([])
        return out

    def invalid_texts(self) -> list[str]:
        return ["x", ",", ""] if self.min_len else ["x"]


class OrNone(Constraint):
    """None, or a value meeting ``inner`` (None means "not set": see the component).

    Examples
    --------
    >>> OrNone(Interval(float, 0.0, None)).describe()
    'None or a finite real in [0, inf)'
    """

    def __init__(self, inner: Constraint):
        self.inner = inner

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"

    def ok(self, value) -> bool:
        return value is None or self.inner.ok(value)

    def coerce(self, value):
        return None if value is None else self.inner.coerce(value)

    def _from_text(self, text: str):
        return None if text.lower() == "none" else self.inner._from_text(text)

    def invalid_values(self) -> list:
        return [v for v in self.inner.invalid_values() if v is not None]

    def invalid_texts(self) -> list[str]:
        return [t for t in self.inner.invalid_texts() if t.lower() != "none"]


# --- declaring a component's parameters ----------------------------------------------------

def declare(**constraints):
    """Class decorator (put it *below* ``@dataclass``): declare parameter constraints.

    The class gets ``PARAMS`` (its declarations merged over its bases') and a
    ``__post_init__`` that checks every declared field, stores coerced values
    (an int for an int interval, a tuple for a sequence) and then runs the
    class's own ``__post_init__`` body (relations between fields), or else the
    nearest base's. A subclass that is not decorated inherits the check of its
    nearest declared base, so its inherited parameters are still checked.
    """
    def deco(cls):
        params = {}
        for base in reversed(cls.__mro__[1:]):
            params.update(getattr(base, "PARAMS", {}))
        params.update(constraints)
        cls.PARAMS = params
        body = cls.__dict__.get("__post_init__")
        if body is None:
            body = next((getattr(b.__dict__["__post_init__"], "_body", b.__dict__["__post_init__"])
                         for b in cls.__mro__[1:] if "__post_init__" in b.__dict__), None)
        else:
            body = getattr(body, "_body", body)

        def __post_init__(self):
            check_params(self)
            if body is not None:
                body(self)
        __post_init__._body = body
        cls.__post_init__ = __post_init__
        return cls
    return deco


def params_of(obj_or_cls) -> dict:
    """``{name: Constraint}`` declared by a component (empty if it declares none)."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return dict(getattr(cls, "PARAMS", {}))


def check_params(obj) -> None:
    """Check every declared parameter of ``obj``; store coerced values on frozen dataclasses."""
    where = type(obj).__name__
    for name, constraint in params_of(obj).items():
        value = getattr(obj, name)
        coerced = constraint.check(name, value, where)
        if coerced is not value:
            object.__setattr__(obj, name, coerced)


# --- the plain checkers of function arguments (the same constraints, used in line) --------

def check_int(name: str, value, *, low: int | None = None, high: int | None = None,
              where: str = "") -> int:
    """Return ``value`` as an int in ``[low, high]``, or raise InvalidParameter naming ``name``."""
    return Interval(int, low, high).check(name, value, where)


def check_real(name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, where: str = "") -> float:
    """Return ``value`` as a finite float inside the interval, or raise InvalidParameter."""
    closed = {(False, False): "both", (False, True): "left", (True, False): "right",
              (True, True): "neither"}[(bool(low_open), bool(high_open))]
    return Interval(float, low, high, closed=closed).check(name, value, where)


def check_choice(name: str, value, choices, *, where: str = ""):
    """Return ``value`` if it is one of ``choices``, else raise InvalidParameter listing them."""
    return Options(*choices).check(name, value, where)


# --- seeds: one declaration for the Python API, the CLI and the pytest plugin -------------

#: A run's seed.
SEED = Interval(int, 0, 2**63 - 1)
#: How many seeds a count may ask for.
SEED_COUNT = Interval(int, 1, 10_000)
#: The largest campaign budget (USD). At the cheapest retail action (a bot view, $0.0005)
#: $10,000 buys 20M actions: with their impressions ~40M events, about 1 GB of event log
#: per run and as much again for its clean twin's bookkeeping, which is what a 2-core,
#: 24 GB machine can hold with two runs in flight. Larger budgets used to grow memory
#: until the machine died; now they are refused before any work.
MAX_BUDGET = 10_000.0
#: A campaign budget in USD.
BUDGET = Interval(float, 0.0, MAX_BUDGET)


class SeedList(Constraint):
    """Seeds: a count ``N`` (seeds ``0..N-1``) or a comma list of distinct seeds.

    Examples
    --------
    >>> SeedList().parse("3"), SeedList().parse("5,7")
    ((0, 1, 2), (5, 7))
    """

    def __init__(self, min_len: int = 1):
        self.min_len = min_len
        self._list = SequenceOf(SEED, min_len=min_len, distinct=True)

    def describe(self) -> str:
        least = f"at least {self.min_len} " if self.min_len > 1 else ""
        return (f"a count in [{self.min_len}, 10000] or a comma list of {least}distinct seeds "
                "in [0, 2**63-1]")

    def ok(self, value) -> bool:
        return self._list.ok(value)

    def coerce(self, value):
        return self._list.coerce(value)

    def _from_text(self, text: str):
        if "," not in text:
            n = SEED_COUNT._from_text(text)
            if n is _BAD or not SEED_COUNT.ok(n):
                return _BAD
            return tuple(range(n))
        return self._list._from_text(text)

    def invalid_values(self) -> list:
        return [None, [-1], [1.5], [2**70], [3, 3], []]

    def invalid_texts(self) -> list[str]:
        return ["", "0", "x", "10001", "-1,2", "1,1", "1.5", "2,99999999999999999999"]


def parse_seeds(text: str, option: str = "--seeds", min_len: int = 1) -> tuple[int, ...]:
    """Seeds from an option's text, or InvalidParameter naming ``option`` and the form."""
    c = SeedList(min_len)
    try:
        return c.parse(text)
    except InvalidParameter:
        raise InvalidParameter(f"{option} must be {c.describe()}. Got {text!r}.",
                               name=option) from None

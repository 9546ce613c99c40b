"""Registries: one per plug-in family (rankers, defences, attacks, metrics).

A name is found in three places, in this order:

1. **Built-ins** register themselves with the :meth:`Registry.register` decorator
   (their modules are imported on the first look-up, so the registries work
   whatever was imported before).
2. **Entry points** of installed distributions, one group per family:
   ``boostbench.rankers``, ``boostbench.defences``, ``boostbench.attacks`` and
   ``boostbench.metrics``. A user package declares, in its ``pyproject.toml``::

       [project.entry-points."boostbench.rankers"]
       my_ranker = "mypkg.ranking:MyRanker"

   The group is read the first time a name is not found among the built-ins or
   the names are listed; a plug-in's module is imported only when the plug-in
   is asked for (:meth:`Registry.get`) or everything is listed
   (:meth:`Registry.items`).
3. **``module:attr`` specs** (``mypkg.ranking:MyRanker``, or a dotted attribute
   path ``mypkg.ranking:Factory.default``) are imported with
   :func:`importlib.import_module` and resolved with ``getattr``; nothing is ever
   ``eval``-ed.

Errors. A plug-in that fails to import, names a missing attribute or is not
callable is *broken*: asking for it raises :class:`InvalidParameter` naming the
plug-in, its entry point and its distribution, while every other name keeps
working. :meth:`Registry.names` lists broken plug-ins too (it imports nothing);
:meth:`Registry.items` leaves them out and :meth:`Registry.broken` reports them.
Two plug-ins with the same name, or a plug-in named like a built-in, are a
configuration error: reading that group raises :class:`InvalidParameter`
naming both.

What ``get`` returns is the family's contract: a factory called with no
arguments for rankers, defences and attacks (a class or a function), a
:class:`~boostbench.metrics.Metric` for metrics.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading

from .errors import InvalidParameter

__all__ = ["Registry", "RANKERS", "DEFENCES", "ATTACKS", "METRICS", "PACINGS", "SUPPLIERS",
           "resolve_spec"]


def _entry_points(group: str):
    """Entry points of ``group`` in the installed distributions."""
    return importlib.metadata.entry_points(group=group)


def _dist_name(ep) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    try:
        return f"distribution {dist.name} {dist.version}"
    except Exception:  # a distribution without metadata
        return "an unknown distribution"


def _describe_ep(ep, group: str) -> str:
    return f"entry point '{ep.name} = {ep.value}' in group {group!r} of {_dist_name(ep)}"


def _qualname(obj) -> str:
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{mod}:{name}"


def resolve_spec(spec: str, family: str = "plug-in", *, need_callable: bool = True):
    """Import ``module:attr`` and return the attribute (``attr`` may be dotted).

    Parameters
    ----------
    spec : str
        ``"package.module:attribute"``; both parts must be dotted Python identifiers.
    family : str
        Used in error messages ("ranker", "attack", ...).
    need_callable : bool
        The attribute must be callable (a factory); False for families that
        register instances.

    Returns
    -------
    object
        The resolved attribute.

    Raises
    ------
    InvalidParameter
        The spec is malformed, the module cannot be imported, an attribute is
        missing, or the result is not callable.

    Examples
    --------
    >>> resolve_spec("boostbench.rankers.likes:LikeCount", "ranker").__name__
    'LikeCount'
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise InvalidParameter(f"The {family} spec must look like 'package.module:attribute'. "
                               f"Got {spec!r} instead.", name=family)
    module_name, attr_path = (part.strip() for part in spec.split(":"))
    parts = attr_path.split(".")
    if not module_name or not all(p.isidentifier() for p in module_name.split(".")) \
            or not all(p.isidentifier() for p in parts):
        raise InvalidParameter(f"The {family} spec must look like 'package.module:attribute' "
                               f"(dotted Python identifiers). Got {spec!r} instead.", name=family)
    try:
        obj = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or any error raised while the module runs
        raise InvalidParameter(f"Cannot load {family} {spec!r}: importing module "
                               f"{module_name!r} failed with {type(e).__name__}: {e}",
                               name=family) from e
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = module_name if i == 0 else f"{module_name}:{'.'.join(parts[:i])}"
            raise InvalidParameter(f"Cannot load {family} {spec!r}: {where!r} has no attribute "
                                   f"{part!r}.", name=family) from None
    if need_callable and not callable(obj):
        raise InvalidParameter(f"The {family} {spec!r} must be callable (a class or a function "
                               f"that makes a {family}). Got {type(obj).__name__} "
                               f"{obj!r:.60} instead.", name=family)
    return obj


class Registry:
    """A name -> object mapping for one plug-in family.

    Parameters
    ----------
    family : str
        Singular noun used in messages ("ranker").
    group : str, optional
        Entry-point group of user plug-ins (default ``"boostbench." + family + "s"``).
    builtins : str, optional
        Module whose import registers the built-ins (imported on the first look-up).
    entry_points : callable, optional
        ``group -> iterable of importlib.metadata.EntryPoint``; defaults to
        :func:`importlib.metadata.entry_points` (tests pass a fake).
    instances : bool
        The family registers instances (suppliers), not factories: a plug-in need
        not be callable.
    """

    def __init__(self, family: str, group: str | None = None, *, builtins: str | None = None,
                 entry_points=None, instances: bool = False):
        self.family = family
        self.instances = instances
        self.group = group or f"boostbench.{family}s"
        self._builtins = builtins
        self._builtins_done = builtins is None
        self._find_entry_points = entry_points or _entry_points
        self._items: dict[str, object] = {}
        self._plugins: dict[str, object] | None = None   # name -> entry point not yet loaded
        self._entry_points_seen: dict[str, object] = {}  # name -> every entry point read
        self._loaded: set[str] = set()                     # names that came from entry points
        self._broken: dict[str, str] = {}
        self._loading: set[str] = set()                    # plug-ins being imported right now
        self._lock = threading.RLock()

    # --- registration -------------------------------------------------------------
    def register(self, name: str):
        """Decorator registering ``obj`` under ``name``; duplicate names are rejected.

        The same definition registering again (its module re-imported, e.g. after
        pytester restored ``sys.modules``) replaces the old entry.
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise InvalidParameter(f"The 'name' parameter of {self.family} registration must be "
                                   f"a non-empty string without ':'. Got {name!r} instead.",
                                   name="name")

        def deco(obj):
            with self._lock:
                if name in self._items and _identity(self._items[name]) != _identity(obj):
                    raise InvalidParameter(
                        f"A {self.family} named {name!r} is already registered "
                        f"({_qualname(self._items[name])}); cannot register {_qualname(obj)}.",
                        name="name")
                ep = (self._plugins or {}).get(name)
                if ep is not None and name not in self._loading and not self._same(ep, obj):
                    raise InvalidParameter(
                        f"Cannot register {self.family} {name!r} ({_qualname(obj)}): the "
                        f"{_describe_ep(ep, self.group)} already uses that name.", name="name")
                self._items[name] = obj
            return obj
        return deco

    # --- look-up ------------------------------------------------------------------
    def get(self, spec: str):
        """The object registered as ``spec``, a plug-in's, or the ``module:attr`` it names.

        Raises
        ------
        InvalidParameter
            Unknown name (the message lists the known ones), a broken plug-in, or a
            ``module:attr`` that does not resolve.
        """
        if not isinstance(spec, str):
            raise InvalidParameter(f"The {self.family} name must be a string. Got {spec!r}.",
                                   name=self.family)
        spec = spec.strip()
        if ":" in spec:
            return resolve_spec(spec, self.family, need_callable=not self.instances)
        self._ensure_builtins()
        with self._lock:
            if spec in self._items:
                return self._items[spec]
            plugins = self._discover()
            if spec in plugins:
                return self._load(spec)
            if spec in self._broken:
                raise InvalidParameter(self._broken[spec], name=self.family)
        raise InvalidParameter(f"Unknown {self.family} {spec!r}; registered: "
                               f"{', '.join(self.names())}; or give 'package.module:attribute'.",
                               name=self.family)

    def create(self, spec: str):
        """The component ``spec`` names, made: :meth:`get`, then called without arguments when
        it is a factory (a class, or a function) rather than a component already (an object
        with a string ``name``; for instance families, whatever was registered).

        Raises
        ------
        InvalidParameter
            What :meth:`get` raises, or the factory failing (named, with its error).
        """
        obj = self.get(spec)
        if self.instances or (not isinstance(obj, type)
                              and isinstance(getattr(obj, "name", None), str)):
            return obj
        try:
            return obj()
        except InvalidParameter:
            raise
        except Exception as e:  # user code: one line naming the plug-in and its error
            raise InvalidParameter(f"Cannot make {self.family} {spec!r}: calling it without "
                                   f"arguments failed with {type(e).__name__}: {e}",
                                   name=self.family) from e

    def __contains__(self, spec) -> bool:
        """True for a known name (built-in or plug-in, even a broken one: :meth:`get`
        explains it) and for a ``module:attr`` spec that resolves."""
        if not isinstance(spec, str):
            return False
        spec = spec.strip()
        if ":" in spec:
            try:
                resolve_spec(spec, self.family, need_callable=not self.instances)
            except InvalidParameter:
                return False
            return True
        return spec in self.names()

    def names(self) -> list[str]:
        """Sorted names of built-ins and installed plug-ins; imports no plug-in."""
        self._ensure_builtins()
        with self._lock:
            return sorted(set(self._items) | set(self._discover()) | set(self._broken))

    def items(self) -> list[tuple[str, object]]:
        """Sorted ``(name, object)`` pairs; loads every plug-in and leaves out broken ones."""
        self._ensure_builtins()
        with self._lock:
            for name in list(self._discover()):
                try:
                    self._load(name)
                except InvalidParameter:
                    pass  # recorded in self._broken
            return sorted(self._items.items())

    def broken(self) -> dict[str, str]:
        """``{name: message}`` of the plug-ins that fail to load (loads every plug-in)."""
        self.items()
        with self._lock:
            return dict(sorted(self._broken.items()))

    def source(self, name: str) -> str:
        """Where ``name`` comes from: ``"built-in module:qualname"`` or its entry point."""
        self._ensure_builtins()
        with self._lock:
            self._discover()
            if name in self._entry_points_seen:
                return _describe_ep(self._entry_points_seen[name], self.group)
            if name in self._items:
                return f"built-in {_qualname(self._items[name])}"
        raise InvalidParameter(f"Unknown {self.family} {name!r}; registered: "
                               f"{', '.join(self.names())}.", name=self.family)

    def refresh(self) -> None:
        """Forget the entry points read so far (the next look-up reads the group again)."""
        with self._lock:
            for name in self._loaded:
                self._items.pop(name, None)
            self._loaded.clear()
            self._broken.clear()
            self._plugins = None
            self._entry_points_seen = {}

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, group={self.group!r})"

    # --- internals ----------------------------------------------------------------
    def _ensure_builtins(self) -> None:
        if self._builtins_done:
            return
        self._builtins_done = True  # before the import: the modules call register()
        importlib.import_module(self._builtins)

    @staticmethod
    def _same(ep, obj) -> bool:
        """Does entry point ``ep`` name ``obj`` (a plug-in that also registers itself)?

        Compares the spec first; a re-export (``pkg:Thing`` for ``pkg.mod:Thing``)
        is checked by loading the entry point, whose module is then already imported.
        """
        if ep.value.replace(" ", "") == _qualname(obj):
            return True
        try:
            return ep.load() is obj
        except Exception:
            return False

    def _discover(self) -> dict:
        """Read the entry-point group once; reject duplicate names."""
        if self._plugins is not None:
            return self._plugins
        found: dict[str, object] = {}
        for ep in self._find_entry_points(self.group):
            if ep.name in found:
                if found[ep.name].value == ep.value:
                    continue  # the same distribution seen twice on sys.path
                raise InvalidParameter(
                    f"Two {self.family} plug-ins are named {ep.name!r}: the "
                    f"{_describe_ep(found[ep.name], self.group)} and the "
                    f"{_describe_ep(ep, self.group)}. Rename one of them.", name=self.family)
            if ep.name in self._items and not self._same(ep, self._items[ep.name]):
                raise InvalidParameter(
                    f"The {_describe_ep(ep, self.group)} collides with the built-in "
                    f"{self.family} {ep.name!r} ({_qualname(self._items[ep.name])}). Rename "
                    f"the plug-in.", name=self.family)
            found[ep.name] = ep
        self._entry_points_seen = dict(found)
        self._plugins = {n: ep for n, ep in found.items() if n not in self._items}
        return self._plugins

    def _load(self, name: str):
        """Import plug-in ``name``; a failure marks it broken and raises InvalidParameter."""
        if name in self._broken:
            raise InvalidParameter(self._broken[name], name=self.family)
        ep = self._plugins[name]
        what = f"The {self.family} plug-in {name!r} ({_describe_ep(ep, self.group)})"
        self._loading.add(name)
        registered_before = name in self._items
        try:
            obj = ep.load()
        except Exception as e:  # ImportError, AttributeError, or anything the module raises
            msg = f"{what} failed to load: {type(e).__name__}: {e}"
        else:
            msg = None
            if not callable(obj) and not self.instances:
                msg = (f"{what} must name something callable (a class or a function that "
                       f"makes a {self.family}). Got {type(obj).__name__} instead.")
            elif name in self._items and self._items[name] is not obj:
                msg = (f"{what} was also registered as {_qualname(self._items[name])}; "
                       f"one name, one object.")
        finally:
            self._loading.discard(name)
        if msg is not None:
            if not registered_before:  # whatever the failed import registered under the name
                self._items.pop(name, None)
            self._broken[name] = msg
            del self._plugins[name]
            raise InvalidParameter(msg, name=self.family)
        del self._plugins[name]
        self._items[name] = obj
        self._loaded.add(name)
        return obj


RANKERS = Registry("ranker", "boostbench.rankers", builtins="boostbench.rankers")
DEFENCES = Registry("defence", "boostbench.defences", builtins="boostbench.rankers")
ATTACKS = Registry("attack", "boostbench.attacks", builtins="boostbench.attacks")
METRICS = Registry("metric", "boostbench.metrics", builtins="boostbench.metrics")
PACINGS = Registry("pacing", "boostbench.pacings", builtins="boostbench.attacks")
SUPPLIERS = Registry("supplier", "boostbench.suppliers", builtins="boostbench.attacks",
                     instances=True)


def _identity(obj) -> str:
    """Where ``obj`` is defined (a metric by its function): equal across re-imports."""
    target = getattr(obj, "fn", obj)
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"

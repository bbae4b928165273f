"""api manifest: the dtmx package has the public names of tests/vectors/api.json (the surface
every dtmx package shares), and nothing public that is neither there nor in its
``extras.python`` line.

Python spells the manifest's snake_case names as they are: classes and module functions on the
``dtmx`` package, members on its classes (an entry's ``"python"`` key overrides the spelling,
``"absent": {"python": ...}`` leaves it out). Error classes are ``<Kind>Error`` subclasses of
``DtmxError`` whose ``kind`` and ``code`` are the manifest's kind and c/include/dtmx.h's
``DtmxCode``.
"""

from __future__ import annotations

import fnmatch
import inspect
import pkgutil
import re
from typing import Any, Dict, List, Optional, Set

import dtmx

from conftest import REPO, load_vectors

PKG = "python"
MANIFEST = load_vectors("api.json")
EXTRAS: List[Dict[str, str]] = MANIFEST["extras"][PKG]


def spelled(entry: Dict[str, Any]) -> Optional[str]:
    """The package's spelling of a manifest entry; None when it is absent here."""
    if PKG in entry.get("absent", {}):
        return None
    return entry.get(PKG, entry["name"])


def error_class_name(kind: str) -> str:
    return "".join(w.capitalize() for w in kind.split("_")) + "Error"


def dtmx_codes() -> Dict[str, int]:
    """``DTMX_<KIND>`` of c/include/dtmx.h's ``DtmxCode``, by snake_case kind."""
    header = (REPO / "c" / "include" / "dtmx.h").read_text()
    body = re.search(r"typedef enum DtmxCode \{(.*?)\}", header, re.S)
    assert body, "no DtmxCode in c/include/dtmx.h"
    return {m[1].lower(): int(m[2]) for m in re.finditer(r"DTMX_(\w+)\s*=\s*(\d+)", body[1])}


def manifest_module_names() -> Set[str]:
    names = {c["name"] for c in MANIFEST["classes"]}
    names |= {n for n in map(spelled, MANIFEST["functions"]) if n}
    names.add(MANIFEST["errors"]["base"])
    names |= {error_class_name(k) for k in MANIFEST["errors"]["kinds"]}
    return names


def is_extra(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, e["name"]) for e in EXTRAS)


def public_module_names() -> Set[str]:
    """Public names of the package: its attributes and its public submodules (imported or
    not)."""
    names = {n for n in dir(dtmx) if not n.startswith("_")}
    names |= {m.name for m in pkgutil.iter_modules(dtmx.__path__) if not m.name.startswith("_")}
    return names


def public_members(cls: type) -> Set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def is_static(cls: type, name: str) -> bool:
    return isinstance(inspect.getattr_static(cls, name), (staticmethod, classmethod))


def test_every_manifest_name_exists() -> None:
    missing: List[str] = []
    wrong: List[str] = []
    for c in MANIFEST["classes"]:
        cls = getattr(dtmx, c["name"], None)
        if not inspect.isclass(cls):
            missing.append(f"class dtmx.{c['name']}")
            continue
        for m in c["members"]:
            name = spelled(m)
            if name is None:
                continue
            if not hasattr(cls, name):
                missing.append(f"dtmx.{c['name']}.{name}")
            elif is_static(cls, name) != bool(m.get("static")):
                wrong.append(f"dtmx.{c['name']}.{name} should {'' if m.get('static') else 'not '}be static")
    for f in MANIFEST["functions"]:
        name = spelled(f)
        if name is None:
            continue
        if not hasattr(dtmx, name):
            missing.append(f"function dtmx.{name}")
        elif not name.startswith("__") and not callable(getattr(dtmx, name)):
            wrong.append(f"dtmx.{name} is not callable")
    assert not missing, "in tests/vectors/api.json but not in the dtmx package: " + ", ".join(missing)
    assert not wrong, "; ".join(wrong)


def test_error_classes() -> None:
    errors = MANIFEST["errors"]
    base = getattr(dtmx, errors["base"], None)
    assert inspect.isclass(base) and issubclass(base, Exception), f"dtmx.{errors['base']} is missing"
    codes = dtmx_codes()
    problems: List[str] = []
    for kind in errors["kinds"]:
        name = error_class_name(kind)
        cls = getattr(dtmx, name, None)
        if not (inspect.isclass(cls) and issubclass(cls, base)):
            problems.append(f"dtmx.{name} is missing or not a {errors['base']}")
            continue
        e = cls("boom")
        if (e.kind, e.code) != (kind, codes[kind]):
            problems.append(f"dtmx.{name}: kind, code {e.kind!r}, {e.code} != {kind!r}, {codes[kind]}")
        for attr in errors["attributes"]:
            if not hasattr(e, attr):
                problems.append(f"dtmx.{name} has no attribute {attr}")
    assert not problems, "; ".join(problems)


def test_nothing_public_beyond_the_manifest() -> None:
    known = manifest_module_names()
    unknown = sorted(n for n in public_module_names() - known if not is_extra(n))
    for c in MANIFEST["classes"]:
        cls = getattr(dtmx, c["name"], None)
        if cls is None:
            continue  # reported by test_every_manifest_name_exists
        members = {n for n in map(spelled, c["members"]) if n}
        unknown += sorted(f"{c['name']}.{n}" for n in public_members(cls) - members
                          if not is_extra(f"{c['name']}.{n}"))
    assert not unknown, (
        "public in the dtmx package but neither in tests/vectors/api.json nor in its extras.python: "
        + ", ".join(unknown)
    )


def test_all_lists_the_public_attributes() -> None:
    attributes = {n for n in dir(dtmx) if not n.startswith("_") and not inspect.ismodule(getattr(dtmx, n))}
    assert set(dtmx.__all__) == attributes


def test_every_extra_is_used() -> None:
    """An extras entry that matches nothing is stale (renamed or removed)."""
    names = set(public_module_names())
    for c in MANIFEST["classes"]:
        cls = getattr(dtmx, c["name"], None)
        if cls is not None:
            names |= {f"{c['name']}.{n}" for n in public_members(cls)}
    stale = [e["name"] for e in EXTRAS if not fnmatch.filter(names, e["name"])]
    assert not stale, "extras.python entries that match no public name: " + ", ".join(stale)
    assert all(e.get("why") for e in EXTRAS), "every extras.python entry says why"

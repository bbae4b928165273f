"""Keeps dtmx/_native.pyi in sync with the compiled module: the same functions and
classes, the same members of each kind, the same parameter names and defaults; and every
name of ``dtmx.__all__`` exists."""

from __future__ import annotations

import ast
import inspect
import pathlib
import sys
from typing import Dict, List, Optional, Tuple

import dtmx
from dtmx import _native

STUB = pathlib.Path(dtmx.__file__).with_name("_native.pyi")
Params = List[Tuple[str, bool]]  # (name, has default)


def stub_params(f: ast.FunctionDef, drop_self: bool) -> Params:
    args = f.args.args[1:] if drop_self else f.args.args
    first_default = len(args) - len(f.args.defaults)
    return [(a.arg, i >= first_default) for i, a in enumerate(args)]


def runtime_params(text_signature: Optional[str]) -> Params:
    assert text_signature, "no __text_signature__"
    out = []
    for p in text_signature.strip("()").split(","):
        p = p.strip()
        if not p or p.startswith("$") or p.startswith("*"):
            continue
        name, _, default = p.partition("=")
        out.append((name, bool(default)))
    return out


def stub_tree() -> Tuple[Dict[str, ast.FunctionDef], Dict[str, ast.ClassDef]]:
    tree = ast.parse(STUB.read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    return funcs, classes


def stub_constants() -> Dict[str, str]:
    """The module's annotated constants (``NAME: int``): their type names."""
    tree = ast.parse(STUB.read_text())
    return {n.target.id: ast.unparse(n.annotation) for n in tree.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def test_module_level_names() -> None:
    funcs, classes = stub_tree()
    constants = stub_constants()
    public = {n for n in dir(_native) if not n.startswith("_")}
    runtime_classes = {n for n in public if inspect.isclass(getattr(_native, n))}
    runtime_constants = {n for n in public - runtime_classes if not callable(getattr(_native, n))}
    assert set(classes) == runtime_classes
    assert set(constants) == runtime_constants
    for name, type_name in constants.items():
        assert type(getattr(_native, name)).__name__ == type_name, name
    assert set(funcs) == public - runtime_classes - runtime_constants
    for name, f in funcs.items():
        assert stub_params(f, False) == runtime_params(getattr(_native, name).__text_signature__), name


def test_class_members() -> None:
    _, classes = stub_tree()
    for cname, cls in classes.items():
        rt = getattr(_native, cname)
        members = {n: v for n, v in vars(rt).items() if not n.startswith("__")}
        stub_members = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"}
        # Annotated class attributes: the variants of an enum (``Own: Ownership``).
        stub_attrs = {n.target.id: ast.unparse(n.annotation) for n in cls.body
                      if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
        assert set(stub_members) | set(stub_attrs) == set(members), cname
        for name, type_name in stub_attrs.items():
            assert type(members[name]).__name__ == type_name, f"{cname}.{name}"
        for name, f in stub_members.items():
            decorators = {d.id for d in f.decorator_list if isinstance(d, ast.Name)}
            value = members[name]
            if "property" in decorators:
                assert inspect.isgetsetdescriptor(value), f"{cname}.{name} is not a property"
            elif "staticmethod" in decorators:
                assert isinstance(value, staticmethod), f"{cname}.{name} is not static"
                assert stub_params(f, False) == runtime_params(getattr(rt, name).__text_signature__)
            else:
                assert stub_params(f, True) == runtime_params(value.__text_signature__), f"{cname}.{name}"
        init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is None:
            assert rt.__text_signature__ is None, f"{cname} is constructible but has no __init__ stub"
        elif rt.__text_signature__ is None and sys.version_info < (3, 10):
            pass  # abi3 classes get a __text_signature__ from CPython 3.10 on
        else:
            assert stub_params(init, True) == runtime_params(rt.__text_signature__), cname


def test_public_names() -> None:
    for name in dtmx.__all__:
        assert hasattr(dtmx, name), name

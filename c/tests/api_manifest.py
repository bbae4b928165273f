#!/usr/bin/env python3
"""The api manifest test of libdtmx: c/include/dtmx.h against tests/vectors/api.json.

Both directions: every manifest class, member, module function and error kind that is
not absent for C is declared in the header under its C spelling (`Dtmx<Class>`,
`dtmx_<class_snake>_<member>` or the entry's "c" spelling, `dtmx_<function>`,
`DTMX_<KIND>`), and every `dtmx_` function the header declares is a manifest name or
matches an entry of extras.c (globs). The error classes and kinds are checked in the
library itself: `dtmx_code_class` and `dtmx_code_name` of each code.

    python3 c/tests/api_manifest.py [api.json] [dtmx.h] [libdtmx.so]
"""

import ctypes
import fnmatch
import json
import re
import sys


def snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def pascal(kind):
    return "".join(part.capitalize() for part in kind.split("_"))


def expected(manifest):
    """{C name: what it stands for} of every name the manifest asks of C."""
    names = {}
    for cls in manifest["classes"]:
        for m in cls["members"]:
            if "c" in m.get("absent", {}):
                continue
            c = m.get("c", f"dtmx_{snake(cls['name'])}_{m['name']}")
            names[c] = f"{cls['name']}.{m['name']}"
    for f in manifest["functions"]:
        if "c" in f.get("absent", {}):
            continue
        names[f.get("c", f"dtmx_{f['name']}")] = f"function {f['name']}"
    return names


def main(argv):
    api = argv[1] if len(argv) > 1 else "tests/vectors/api.json"
    header_path = argv[2] if len(argv) > 2 else "c/include/dtmx.h"
    lib = argv[3] if len(argv) > 3 else None
    manifest = json.load(open(api))
    header = open(header_path).read()
    declared = set(re.findall(r"\b(dtmx_[a-z0-9_]+)\(", header))
    extras = manifest["extras"]["c"]
    problems = []

    # Forward: every class type and member, every function.
    for cls in manifest["classes"]:
        if not re.search(rf"\btypedef struct Dtmx{cls['name']}\b", header):
            problems.append(f"missing type Dtmx{cls['name']} (class {cls['name']})")
    want = expected(manifest)
    for c, what in sorted(want.items()):
        if c not in declared:
            problems.append(f"missing {c} ({what}) in {header_path}")

    # Errors: the base struct, one DtmxCode per kind, the attributes.
    errors = manifest["errors"]
    if not re.search(rf"\btypedef struct {errors['base']}\b", header):
        problems.append(f"missing type {errors['base']} (the error base)")
    codes = {}
    for kind in errors["kinds"]:
        m = re.search(rf"\bDTMX_{kind.upper()} = (\d+),", header)
        if m is None:
            problems.append(f"missing error code DTMX_{kind.upper()} (kind {kind})")
        else:
            codes[kind] = int(m.group(1))
    struct = re.search(r"typedef struct DtmxError \{(.*?)\} DtmxError;", header, re.S)
    fields = set(re.findall(r"(\w+);", struct.group(1))) if struct else set()
    spelled = {"kind": "dtmx_code_name", "notes": "dtmx_error_note", "status": "dtmx_error_status"}
    for attribute in errors["attributes"]:
        if attribute in spelled:
            if spelled[attribute] not in declared:
                problems.append(f"missing {spelled[attribute]} (error attribute {attribute})")
        elif attribute not in fields:
            problems.append(f"missing field DtmxError.{attribute} (error attribute {attribute})")
    if lib is not None:
        dtmx = ctypes.CDLL(lib)
        for fn in (dtmx.dtmx_code_name, dtmx.dtmx_code_class):
            fn.restype, fn.argtypes = ctypes.c_char_p, [ctypes.c_int32]
        for kind, code in codes.items():
            name = (dtmx.dtmx_code_name(code) or b"").decode()
            klass = (dtmx.dtmx_code_class(code) or b"").decode()
            if name != kind:
                problems.append(f"dtmx_code_name({code}) is {name!r}, not the kind {kind!r}")
            if klass != f"{pascal(kind)}Error":
                problems.append(f"dtmx_code_class({code}) is {klass!r}, not {pascal(kind)}Error")

    # Reverse: every declared function is the manifest's or an extra.
    globs = [e["name"] for e in extras]
    for name in sorted(declared):
        if name not in want and not any(fnmatch.fnmatchcase(name, g) for g in globs):
            problems.append(f"{name} is in {header_path} but neither in the manifest nor in extras.c")
    for g in globs:
        if not any(fnmatch.fnmatchcase(name, g) for name in declared):
            problems.append(f"extras.c entry {g!r} matches nothing in {header_path}")

    checked = len(want) + len(errors["kinds"]) + len(declared)
    if problems:
        for p in problems:
            print(f"FAIL api manifest: {p}")
        print(f"c api manifest: 0 passed, 1 failed ({len(problems)} problems)")
        return 1
    print(f"c api manifest: 1 passed, 0 failed ({checked} names checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

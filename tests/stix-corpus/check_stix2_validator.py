#!/usr/bin/env python3
"""Checks the corpus against the OASIS stix2-validator (PyPI, 3.3.2).

    .venv/bin/python tests/stix-corpus/check_stix2_validator.py [-v]

For every file under valid/ and invalid/ this runs stix2-validator with its
default options and STIX version 2.1 (warnings -- the SHOULD-level checks --
do not count; only errors make a file invalid) and compares the verdict with
the directory the file is in. A disagreement is accepted only if the file is
listed in the table of EXPECTED.md with the verdict stix2-validator gives.

Exit status: 0 if every file agrees or is a documented difference (and every
documented difference still occurs), 1 otherwise. `-v` prints each file's
stix2-validator errors.

Importable: `check(verbose=False) -> (problems, rows)` for use from pytest.
"""

import json
import logging
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent


def documented_differences():
    """{relative path: stix2-validator verdict} from the EXPECTED.md table."""
    rows = {}
    row_re = re.compile(r"^\|\s*`((?:valid|invalid)/[^`]+\.json)`\s*\|\s*(\w+)\s*\|\s*(\w+)\s*\|")
    for line in (HERE / "EXPECTED.md").read_text(encoding="utf-8").splitlines():
        m = row_re.match(line)
        if m:
            path, ours, theirs = m.group(1), m.group(2).lower(), m.group(3).lower()
            rows[path] = (ours, theirs)
    return rows


def oasis_verdict(path, options):
    from stix2validator import validate_file

    result = validate_file(str(path), options)
    errors = []
    fatal = getattr(result, "fatal", None)
    if fatal is not None:
        # stix2-validator stopped with an exception (e.g. KeyError on a missing
        # property); the file is reported invalid.
        errors.append(f"fatal: {getattr(fatal, 'error', fatal)}")
    objs = result.object_results or []
    if not isinstance(objs, list):
        objs = [objs]
    for o in objs:
        errors.extend(str(getattr(e, "message", e)) for e in (o.errors or []))
    return ("valid" if result.is_valid else "invalid"), errors


def check(verbose=False):
    from stix2validator import ValidationOptions

    logging.disable(logging.CRITICAL)
    options = ValidationOptions(version="2.1", silent=True)
    documented = documented_differences()
    problems = []
    rows = []
    seen_documented = set()
    for sub in ("valid", "invalid"):
        for path in sorted((HERE / sub).glob("*.json")):
            rel = f"{sub}/{path.name}"
            ours = sub
            theirs, errors = oasis_verdict(path, options)
            rows.append((rel, ours, theirs, errors))
            if verbose:
                print(f"{rel}: stix2-validator says {theirs}")
                for e in errors:
                    print(f"    {e}")
            if rel in documented:
                seen_documented.add(rel)
                doc_ours, doc_theirs = documented[rel]
                if doc_ours != ours:
                    problems.append(f"{rel}: EXPECTED.md says relto-stix verdict is {doc_ours}, but the file is in {sub}/")
                if doc_theirs != theirs:
                    problems.append(f"{rel}: EXPECTED.md says stix2-validator verdict is {doc_theirs}, it is {theirs}")
            elif theirs != ours:
                problems.append(f"{rel}: stix2-validator says {theirs}: {'; '.join(errors)[:400]}")
    for rel in sorted(set(documented) - seen_documented):
        problems.append(f"{rel}: listed in EXPECTED.md but not in the corpus")
    return problems, rows


def main():
    verbose = "-v" in sys.argv[1:]
    problems, rows = check(verbose)
    agree = sum(1 for _, ours, theirs, _ in rows if ours == theirs)
    print(f"{len(rows)} files: {agree} agree with stix2-validator, {len(rows) - agree} documented or unexpected differences")
    for p in problems:
        print("PROBLEM:", p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

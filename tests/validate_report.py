#!/usr/bin/python3
# Validates report.json files against docs/report.schema.json with the jsonschema package
# (Debian: python3-jsonschema). Exit 0: all valid; 1: a file is invalid (each error is
# printed); 3: jsonschema is not installed (the caller skips).
import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(3)


def main():
    if len(sys.argv) < 3:
        print("usage: validate_report.py SCHEMA REPORT...", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            report = json.load(f)
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
        for e in errors[:20]:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            print(f"{path}: {where}: {e.message[:300]}")
        bad += bool(errors)
    return 1 if bad else 0


sys.exit(main())

#!/usr/bin/python3
# Parses junit.xml with an XML parser (xml.etree) and checks it against the report.json
# of the same run: one <testcase> per run, suites and totals that add up, <failure> for
# leak/hang/fault runs and <error> for runs ruled error, with the verdict as the type; a
# planned run (selftest controls, "expected" in the record) passes when its plan held.
# Exit 0: consistent; 1: not (each problem is printed).
import json
import sys
import xml.etree.ElementTree as ET


def main():
    junit, report_path = sys.argv[1], sys.argv[2]
    root = ET.parse(junit).getroot()
    with open(report_path) as f:
        report = json.load(f)
    problems = []

    def check(cond, what):
        if not cond:
            problems.append(what)

    check(root.tag == "testsuites", f"root element is {root.tag}")
    runs = report["runs"]
    cases = root.findall("./testsuite/testcase")
    check(len(cases) == len(runs), f"{len(cases)} testcases for {len(runs)} runs")
    check(int(root.get("tests")) == len(runs), "testsuites/@tests")
    def passed(r):  # a planned run (the selftest's controls) passes when the plan held
        return r["expected"]["met"] if "expected" in r else r["verdict"] == "clean"

    want_err = sum(r["verdict"] == "error" for r in runs)
    want_fail = sum(not passed(r) and r["verdict"] != "error" for r in runs)
    check(int(root.get("failures")) == want_fail, "testsuites/@failures")
    check(int(root.get("errors")) == want_err, "testsuites/@errors")
    for suite in root.findall("testsuite"):
        tc = suite.findall("testcase")
        check(int(suite.get("tests")) == len(tc), f"suite {suite.get('name')}: @tests")
        check(int(suite.get("failures")) == sum(c.find("failure") is not None for c in tc),
              f"suite {suite.get('name')}: @failures")
        check(int(suite.get("errors")) == sum(c.find("error") is not None for c in tc),
              f"suite {suite.get('name')}: @errors")
        check(float(suite.get("time")) >= 0, "suite time")
    by_name = {}
    for c in cases:
        float(c.get("time"))
        check(c.get("classname", "").startswith("inflight."), f"classname {c.get('classname')}")
        by_name[c.get("name")] = c
    for r in runs:
        name = f"{r['scenario']} {r['mode']} seed={r['seed']}"
        c = by_name.get(name)
        if c is None:
            problems.append(f"no testcase named {name!r}")
            continue
        failure, error = c.find("failure"), c.find("error")
        if passed(r):
            check(failure is None and error is None, f"{name}: passing run has a failure")
        elif r["verdict"] == "error":
            check(error is not None and error.get("type") == "error", f"{name}: no <error>")
        elif "expected" in r:
            want = "planned-" + r["expected"]["verdict"]
            check(failure is not None and failure.get("type") == want,
                  f"{name}: no <failure type={want}>")
        else:
            check(failure is not None and failure.get("type") == r["verdict"],
                  f"{name}: no <failure type={r['verdict']}>")
            check(failure is not None and r["summary"] == failure.get("message"),
                  f"{name}: failure message is not the verdict summary")
    for p in problems:
        print(p)
    return 1 if problems else 0


sys.exit(main())

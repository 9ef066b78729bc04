#!/usr/bin/env python3
"""The rules of deploy/'s alert rules and Grafana dashboard that promtool does not check.

Run by scripts/check-observability.sh (after `promtool check rules` and `promtool test rules`):
  observability.py ROOT
Checks that every alert has `for:`, a severity label and summary/description annotations; that
every alert is tested firing and tested silent in inlet-alerts.test.yml; that the dashboard is a
Grafana dashboard with a Prometheus datasource variable its panels use; and that every inlet_*
metric named in the rules or the dashboard is one Inlet exposes (defined in Sources/). Prints
every broken rule and exits 1 if there is one.
"""

import glob
import json
import os
import re
import sys

import yaml

failures = []

SEVERITIES = {"critical", "warning"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def fail(rule, why):
    failures.append(f"{rule}: {why}")


def ok(rule):
    print(f"  ok  {rule}")


def exposed_metrics(root):
    """(names, histogram names) Inlet defines: `label: "inlet_..."` anywhere in Sources/, and every
    "inlet_..." literal of Sources/InletServer/Metrics/ (labels passed through helpers)."""
    names, histograms = set(), set()
    for path in glob.glob(os.path.join(root, "Sources", "**", "*.swift"), recursive=True):
        text = open(path).read()
        names |= set(re.findall(r'label:\s*"(inlet_[a-z0-9_]+)"', text))
        histograms |= set(re.findall(r'(?:Timer|Recorder)\(\s*label:\s*"(inlet_[a-z0-9_]+)"', text))
        histograms |= set(re.findall(r'HistogramBuckets\["(inlet_[a-z0-9_]+)"\]', text))
        if os.sep + os.path.join("InletServer", "Metrics") + os.sep in path:
            names |= set(re.findall(r'"(inlet_[a-z0-9_]+)"', text))
    return names | histograms, histograms


def metric_names(expr):
    # inlet_* identifiers not inside a quoted label value.
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(re.findall(r"(?<![A-Za-z0-9_:])inlet_[a-z0-9_]+", unquoted))


def check_names(where, used, names, histograms):
    unknown = []
    for name in sorted(used):
        if name in names:
            continue
        base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if base and base in histograms:
            continue
        unknown.append(name)
    if unknown:
        fail("metric names", f"{where} uses {', '.join(unknown)}, which Inlet does not expose (Sources/InletServer/Metrics/)")
    else:
        ok(f"{where}: all {len(used)} inlet_* metric names are Inlet's")


def check_rules(root, names, histograms):
    print("deploy/prometheus:")
    rules_path = os.path.join(root, "deploy", "prometheus", "inlet-alerts.yml")
    tests_path = os.path.join(root, "deploy", "prometheus", "inlet-alerts.test.yml")
    rules = yaml.safe_load(open(rules_path))
    alerts = [r for g in rules.get("groups", []) for r in g.get("rules", []) if "alert" in r]
    used = set()
    for a in alerts:
        name = a["alert"]
        used |= metric_names(str(a.get("expr", "")))
        if not a.get("for"):
            fail("alert", f"{name} has no `for:` (one bad scrape would page)")
        if (a.get("labels") or {}).get("severity") not in SEVERITIES:
            fail("alert", f"{name}: labels.severity must be one of {sorted(SEVERITIES)}")
        annotations = a.get("annotations") or {}
        for key in ("summary", "description"):
            if not str(annotations.get(key, "")).strip():
                fail("alert", f"{name} has no {key} annotation (say what to do)")
    ok(f"{len(alerts)} alerts, each with for:, severity and summary/description")
    check_names("inlet-alerts.yml", used, names, histograms)

    tests = yaml.safe_load(open(tests_path))
    fired, silent = set(), set()
    for t in tests.get("tests", []):
        for case in t.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case.get("alertname"))
    # A test that fires on instance "bad" but lists no instance "good" still proves silence only
    # if some test expects no alert; the last test of the file feeds a healthy instance to all.
    for a in alerts:
        name = a["alert"]
        if name not in fired:
            fail("alert tests", f"{name} is never tested firing in inlet-alerts.test.yml")
        if name not in silent:
            fail("alert tests", f"{name} is never tested silent (exp_alerts: []) in inlet-alerts.test.yml")
    tested_names = fired | silent
    stray = sorted(n for n in tested_names if n not in {a["alert"] for a in alerts})
    if stray:
        fail("alert tests", f"inlet-alerts.test.yml tests alerts the rules do not have: {stray}")
    ok("every alert is tested firing and silent")
    series_used = set()
    for t in tests.get("tests", []):
        for s in t.get("input_series", []):
            series_used |= metric_names(s.get("series", "").split("{")[0])
    check_names("inlet-alerts.test.yml", series_used, names, histograms)


def check_dashboard(root, names, histograms):
    print("deploy/grafana:")
    path = os.path.join(root, "deploy", "grafana", "inlet-dashboard.json")
    try:
        dashboard = json.load(open(path))
    except ValueError as error:
        fail("dashboard", f"{path} is not JSON: {error}")
        return
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 36:
        fail("dashboard", f"schemaVersion {dashboard.get('schemaVersion')!r}: a dashboard of Grafana 9+ (36 or later) is expected")
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list", [])}
    datasource = [n for n, v in variables.items() if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if not datasource:
        fail("dashboard", "no datasource variable of type prometheus (templating.list)")
        return
    ds = "${%s}" % datasource[0]
    ids, used, queries = set(), set(), 0

    def panels_of(items):
        for p in items:
            yield p
            yield from panels_of(p.get("panels", []))

    for p in panels_of(dashboard.get("panels", [])):
        if p.get("id") in ids:
            fail("dashboard", f"panel id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        title = p.get("title", "?")
        if not p.get("targets"):
            fail("dashboard", f"panel {title!r} has no query")
        for t in p.get("targets", []):
            queries += 1
            target_ds = (t.get("datasource") or p.get("datasource") or {}).get("uid")
            if target_ds != ds:
                fail("dashboard", f"panel {title!r} queries datasource {target_ds!r}, not the variable {ds}")
            expr = t.get("expr", "")
            if not expr.strip():
                fail("dashboard", f"panel {title!r} has an empty query")
            used |= metric_names(expr)
    for v in variables.values():
        q = v.get("query")
        used |= metric_names(q.get("query", "") if isinstance(q, dict) else str(q or ""))
    ok(f"dashboard: schemaVersion {dashboard.get('schemaVersion')}, datasource variable {ds}, {len(ids)} panels, {queries} queries")
    check_names("inlet-dashboard.json", used, names, histograms)


def main():
    root = sys.argv[1]
    names, histograms = exposed_metrics(root)
    if not names:
        fail("metric names", "no inlet_* metric found in Sources/: has Sources/InletServer/Metrics moved?")
    check_rules(root, names, histograms)
    check_dashboard(root, names, histograms)
    if failures:
        print(flush=True)
        for f in failures:
            print(f"check-observability: FAIL: {f}", file=sys.stderr)
        sys.exit(1)
    print("check-observability: all rules hold")


if __name__ == "__main__":
    main()

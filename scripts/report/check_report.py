"""Renders a report.html in headless Chromium and checks it as a reader would see it.

usage: check_report.py REPORT.html REPORT.json --tiles N [--screenshot OUT.png]

Fails (exit 1, one line per problem) on: any script error, console.error or failed resource load
(the page records them in #iw-check, and Chromium's own console log is read too), any image that
did not decode, a lesion gallery without exactly N tiles, and operating-point or iw-minus-base
tables whose numbers are not report.json's. Prints 'skipped: no chromium' (exit 3) without it.
"""
import argparse
import html.parser
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
]


def chromium(args, html_path):
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", *args, "file://" + os.path.abspath(html_path)],
            capture_output=True, text=True, timeout=180,
        )
    return p


class Dom(html.parser.HTMLParser):
    """The #iw-check element, and the cells (data-v or text) of every table by id."""

    def __init__(self):
        super().__init__()
        self.check, self.check_text, self.in_check = None, "", False
        self.tables, self.table, self.row, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "iw-check":
            self.check, self.in_check = a, True
        if tag == "table" and a.get("id"):
            self.table = a["id"]
            self.tables[self.table] = []
        elif tag == "tr" and self.table:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = {"v": a.get("data-v"), "text": ""}

    def handle_endtag(self, tag):
        if tag == "div" and self.in_check:
            self.in_check = False
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        if self.in_check:
            self.check_text += data
        if self.cell is not None:
            self.cell["text"] += data


# The rows of the differences table (report.html's labels) and their report.json keys.
LABELS = {
    "small: recall p > 0.5": ("recall_p05", "small"),
    "small: recall at 1 FP/case": ("recall_1fp", "small"),
    "small: object Dice": ("object_dice", "small"),
    "large: recall p > 0.5": ("recall_p05", "large"),
    "large: recall at 1 FP/case": ("recall_1fp", "large"),
    "large: object Dice": ("object_dice", "large"),
    "all: recall at 1 FP/case": ("recall_1fp", "all"),
    "FP / case (p > 0.5)": ("fp_per_case", "all"),
    "predicted / true volume": ("volume_ratio", "all"),
    "voxel Dice": ("voxel_dice", "all"),
}


def close(a, b):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return a is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("html")
    ap.add_argument("report_json")
    ap.add_argument("--tiles", type=int, required=True)
    ap.add_argument("--screenshot")
    a = ap.parse_args()
    if shutil.which("chromium") is None:
        print("skipped: no chromium")
        return 3
    report = json.load(open(a.report_json))
    p = chromium(["--dump-dom"], a.html)
    problems = []
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "rror" in l)]
    problems += [f"chromium console: {l}" for l in console]
    dom = Dom()
    dom.feed(p.stdout)
    c = dom.check
    if c is None:
        problems.append("no #iw-check in the rendered page (did the page load?)")
        c = {}
    elif c.get("data-state") != "done":
        problems.append(f"the page's check did not run (state {c.get('data-state')})")
    else:
        if c.get("data-errors") != "0":
            problems.append(f"{c.get('data-errors')} error(s) in the page: {dom.check_text.strip()}")
        if c.get("data-broken") != "0":
            problems.append(f"{c.get('data-broken')} of {c.get('data-images')} images did not decode")
        if c.get("data-tiles") != str(a.tiles):
            problems.append(f"the gallery has {c.get('data-tiles')} lesion tiles, expected {a.tiles}")
    # Each rule's operating-point table holds report.json's pooled numbers of the rule, and its
    # differences table the rule's iw - base numbers.
    keys = [("units",), ("voxel_dice",), ("all", "fp_per_case"), ("all", "volume_ratio")]
    for s in ("small", "large"):
        keys += [(s, "lesions"), (s, "recall_p05"), (s, "recall_1fp"), (s, "object_dice")]
    keys += [("largest_over_true",), ("fp_mm3_per_case",)]
    checked = 0
    n_diffs = 0
    for rule, entry in report["rules"].items():
        slug = "overlap" if rule == "overlap" else "iou"
        rows = dom.tables.get(f"operating-{slug}-table", [])[1:]
        if len(rows) != len(entry["pooled"]):
            problems.append(f"operating table ({rule}): {len(rows)} rows, report.json has {len(entry['pooled'])} configurations")
        for r in rows:
            m = r[0]["text"].strip()
            pooled = entry["pooled"].get(m)
            if pooled is None:
                problems.append(f"operating table ({rule}): {m} is not in report.json")
                continue
            for cell, k in zip(r[1:], keys):
                want = pooled
                for part in k:
                    want = want[part]
                if not close(cell["v"], want):
                    problems.append(f"operating table ({rule}), {m}, {'.'.join(k)}: page {cell['v']} vs report.json {want}")
                checked += 1
        diffs = dom.tables.get(f"differences-{slug}-table", [])[1:]
        n_rule = 0
        for r in diffs:
            pair, label = r[0]["text"].strip(), r[1]["text"].strip()
            if label not in LABELS:
                problems.append(f"differences table ({rule}): unknown metric {label!r}")
                continue
            metric, stratum = LABELS[label]
            found = [d for d in entry["iw_minus_base"].get(pair, []) if d["stratum"] == stratum and d["metric"] == metric]
            if not found:
                problems.append(f"differences table ({rule}): {pair} {label} is not in report.json")
            else:
                d = found[0]
                if not (close(r[2]["v"], d["base"]) and close(r[3]["v"], d["iw"]) and close(r[5]["v"], d["ci95"][0]) and close(r[6]["v"], d["ci95"][1])):
                    problems.append(f"differences table ({rule}): {pair} {label}: base/iw/interval differ from report.json")
            n_rule += 1
        if entry["iw_minus_base"] and n_rule == 0:
            problems.append(f"no differences table ({rule}) although report.json has iw - base pairs")
        n_diffs += n_rule
    if a.screenshot:
        s = chromium(["--window-size=1400,3000", "--hide-scrollbars", f"--screenshot={os.path.abspath(a.screenshot)}"], a.html)
        if not os.path.isfile(a.screenshot):
            problems.append(f"no screenshot: {s.stderr[-400:]}")
    for pr in problems:
        print(f"{a.html}: {pr}")
    if problems:
        return 1
    print(f"ok: {a.tiles} tiles, {c.get('data-images')} images, {checked} operating-point and {n_diffs} difference cells match report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

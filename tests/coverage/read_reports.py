#!/usr/bin/env python3
"""An independent reader of chartproof's LCOV and Cobertura coverage files (standard library
only), for tests/coverage_cli.rs: prints, per file, the line hits and branch counts it reads,
as JSON, so the test compares them with the counts expected of the fixture chart.

usage: read_reports.py lcov FILE | cobertura FILE
"""
import json
import sys
import xml.etree.ElementTree as ET


def read_lcov(path):
    files, cur = {}, None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("SF:"):
            cur = {"lines": {}, "branches": [], "LF": None, "LH": None, "BRF": None, "BRH": None}
            files[line[3:]] = cur
        elif line.startswith("DA:"):
            num, hits = line[3:].split(",")[:2]
            cur["lines"][num] = int(hits)
        elif line.startswith("BRDA:"):
            num, block, branch, taken = line[5:].split(",")
            cur["branches"].append([int(num), int(block), int(branch), None if taken == "-" else int(taken)])
        elif line.split(":")[0] in ("LF", "LH", "BRF", "BRH"):
            key, value = line.split(":")
            cur[key] = int(value)
        elif line == "end_of_record":
            # Totals must agree with the records.
            assert cur["LF"] == len(cur["lines"]), (path, "LF")
            assert cur["LH"] == sum(1 for h in cur["lines"].values() if h > 0), (path, "LH")
            assert cur["BRF"] == len(cur["branches"]), (path, "BRF")
            assert cur["BRH"] == sum(1 for b in cur["branches"] if b[3]), (path, "BRH")
            cur = None
    return files


def read_cobertura(path):
    root = ET.parse(path).getroot()
    out = {"totals": {k: root.get(k) for k in ("lines-covered", "lines-valid", "branches-covered", "branches-valid", "line-rate", "branch-rate")}, "packages": {}, "files": {}}
    for pkg in root.iter("package"):
        out["packages"][pkg.get("name")] = {"line-rate": pkg.get("line-rate"), "branch-rate": pkg.get("branch-rate")}
        for cls in pkg.iter("class"):
            lines, covered, valid = {}, 0, 0
            for ln in cls.iter("line"):
                lines[ln.get("number")] = int(ln.get("hits"))
                if ln.get("branch") == "true":
                    cond = ln.get("condition-coverage")
                    c, v = cond.split("(")[1].rstrip(")").split("/")
                    covered += int(c)
                    valid += int(v)
            out["files"][cls.get("filename")] = {"lines": lines, "branches_covered": covered, "branches_valid": valid, "line-rate": cls.get("line-rate")}
    return out


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    print(json.dumps(read_lcov(path) if kind == "lcov" else read_cobertura(path), indent=1, sort_keys=True))

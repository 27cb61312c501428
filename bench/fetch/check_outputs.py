#!/usr/bin/python3
"""Checks corun fetch's files against the original scraper's: for every page, the file
the report names must equal, byte for byte, the scraper's OUT/{i}.html (GB18030 decoded
and written with Python's utf-8-sig, i.e. UTF-8 with a BOM).

usage: check_outputs.py CORUN_REPORT.jsonl SCRAPER_OUT_DIR PAGES [CORUN_OUT_DIR]
Pages are /p/{i}.html, so the URL gives the scraper's file index. Exit 0 when all match.
"""
import json
import os
import re
import sys

report, scraper_dir, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
corun_dir = sys.argv[4] if len(sys.argv) > 4 else os.path.join(os.path.dirname(report), "corun")
seen = set()
bad = []
for line in open(report, encoding="utf-8"):
    if not line.strip():
        continue
    rec = json.loads(line)
    m = re.search(r"/p/(\d+)\.html$", rec.get("url", ""))
    if not m:
        bad.append(f"unexpected url in report: {rec.get('url')!r}")
        continue
    i = int(m.group(1))
    path = rec.get("path") or ""
    if rec.get("error"):
        bad.append(f"{rec['url']}: error {rec['error']!r}")
        continue
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(corun_dir, path)
    try:
        mine = open(path, "rb").read()
    except OSError as e:
        bad.append(f"{rec['url']}: cannot read corun's file: {e}")
        continue
    theirs = open(os.path.join(scraper_dir, f"{i}.html"), "rb").read()
    if mine != theirs:
        where = next((k for k in range(min(len(mine), len(theirs))) if mine[k] != theirs[k]),
                     min(len(mine), len(theirs)))
        bad.append(f"{rec['url']}: differs from the scraper's at byte {where} "
                   f"({len(mine)} vs {len(theirs)} bytes)")
    seen.add(i)
missing = pages - len(seen)
if missing:
    bad.append(f"{missing} of {pages} pages have no successful record in the report")
for b in bad[:20]:
    print("check:", b)
if bad:
    print(f"check: {len(bad)} problems")
    sys.exit(1)
print(f"check: all {pages} files of corun fetch equal the original scraper's, byte for byte")

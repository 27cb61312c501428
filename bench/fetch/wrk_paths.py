#!/usr/bin/python3
"""Writes a wrk Lua script that requests the corpus paths in turn (one path per request,
wrapping around), so wrk's ceiling is measured over the same pages as the fetchers.

usage: wrk_paths.py URLS_FILE > rotate.lua   (URLS_FILE: one path per line, /p/0.html ...)
"""
import json
import sys

paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
print("local paths = {")
for p in paths:
    # JSON string syntax is valid Lua for these ASCII paths.
    print(f"  {json.dumps(p)},")
print("}")
print("""local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end""")

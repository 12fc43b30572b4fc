#!/usr/bin/env python3
"""examples/storefront/catalog.py: the Debian catalog for the storefront (NDJSON in, NDJSON out).

Adds `tag_facets`, the distinct facets of an item's debtags (`game` of `game::strategy`), so the
storefront's hierarchical menu has two levels from the data itself: `tag_facets` (level 0) and
`tags` (level 1, `game::strategy`, separator `::`). Index with
examples/storefront/debian-storefront.json (the Debian schema and that one field)."""
import json
import sys

for line in sys.stdin:
    if not line.strip():
        continue
    rec = json.loads(line)
    facets = sorted({t.split("::", 1)[0] for t in rec.get("tags", []) if "::" in t})
    if facets:
        rec["tag_facets"] = facets
    sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")

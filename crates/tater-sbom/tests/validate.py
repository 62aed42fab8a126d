#!/usr/bin/env python3
"""Validates a CycloneDX 1.5 JSON SBOM (stdin) against the official schema in tests/schema.
Exit 0 when valid; otherwise prints the first errors and exits 1. Python's jsonschema is an
independent reader of what Tater writes."""
import json
import pathlib
import sys

import jsonschema

here = pathlib.Path(__file__).parent / "schema"
schemas = {n: json.loads((here / n).read_text()) for n in ("bom-1.5.schema.json", "spdx.schema.json", "jsf-0.82.schema.json")}
main = schemas["bom-1.5.schema.json"]
try:
    from referencing import Registry, Resource
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in schemas.values()])
    validator = jsonschema.Draft7Validator(main, registry=registry)
except ImportError:  # jsonschema before 4.18
    resolver = jsonschema.RefResolver.from_schema(main, store={s["$id"]: s for s in schemas.values()})
    validator = jsonschema.Draft7Validator(main, resolver=resolver)
bom = json.load(sys.stdin)
errors = sorted(validator.iter_errors(bom), key=lambda e: list(e.path))
for e in errors[:20]:
    print("%s at %s" % (e.message, "/".join(map(str, e.path))))
sys.exit(1 if errors else 0)

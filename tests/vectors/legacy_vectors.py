#!/usr/bin/env python3
"""Prints test vectors for Gavel's two legacy HMAC formats, computed with
Python's own json and hmac modules (the implementations the formats were
defined by). Run: python3 tests/vectors/legacy_vectors.py > tests/vectors/legacy_vectors.json
"""
import hashlib
import hmac
import json

SECRET = "team-secret-\u00e9"  # non-ASCII on purpose: the key is UTF-8 bytes

bundles = [
    [{"id": "allow-small-reindex", "agent": "knowledge.search", "action": "reindex",
      "effect": "allow", "conditions": {"<=index_size_gb": 10}, "reason": "Small reindex jobs are safe"}],
    {"apiVersion": "gavel/v1", "kind": "PolicyBundle",
     "metadata": {"name": "caf\u00e9-agents", "version": "1.0.0", "notes": "emoji \U0001F600 and \u00fcml\u00e4uts"},
     "rules": [{"id": "r1", "agent": "inbox.triage", "action": "quarantine", "effect": "deny",
                "conditions": {">=risk": 0.1, "<risk": 1e16, "ratio": 1e-05, "whole": 1.0, "big": 123456789012,
                               "neg": -2.5, "flag": True, "none": None, "tabs": "a\tb\n\"q\"\\"},
                "reason": "Floats, ints, escapes", "budget": {"cost": 0.01, "compute": 1}}]},
]
overrides = [
    {"workflow_id": "wf-42", "forced_verdict": "promote", "bypass_micro_pilot": False},
    {"bypass_micro_pilot": True, "note": "na\u00efve \u2603", "expires_at": "2099-01-01T00:00:00", "score": 0.30000000000000004},
]

def mac(message):
    return hmac.new(SECRET.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()

vectors = []
for b in bundles:
    dumps = json.dumps(b, sort_keys=True)
    vectors.append({"kind": "export", "value": b, "dumps": dumps, "signature": mac(dumps)})
for d in overrides:
    dumps = json.dumps(d, sort_keys=True, separators=(",", ":"))
    vectors.append({"kind": "override", "value": d, "dumps": dumps, "signature": mac(dumps)})

print(json.dumps({"secret": SECRET, "vectors": vectors}, indent=1))

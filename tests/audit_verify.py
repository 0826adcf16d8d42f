#!/usr/bin/env python3
"""Re-verify a Gavel audit export (`gavel audit export`) without Gavel.

Usage: python3 tests/audit_verify.py EXPORT.jsonl [--checkpoint FILE] [--json]

Each line is one entry {seq, at, actor, action, subject, details, prev_hash,
hash}. An entry's hash is the lowercase hex SHA-256 of its `prev_hash` (ASCII)
followed by the RFC 8785 (JCS) form of {seq, at, actor, action, subject,
details}; the first entry's prev_hash is 64 zeros (DESIGN §11.13).

The first bad entry is named and classified with the rules of Gavel's
`ChainVerifier` (crates/store/src/audit.rs), so both agree:
  1. its prev_hash is the hash of the entry before it: edited;
  2. the entry chained after the last good one comes later: reordered;
  3. its seq is at or below the last good one's: reordered;
  4. its seq is above the next one expected: removed (the first missing seq);
  5. else, if its own hash matches its content, the entry before it was
     edited (and its hash recomputed); otherwise this entry was edited.
With --checkpoint (a file from `gavel audit checkpoint`), a chain that ends
below the checkpoint's seq, or whose entry at that seq has another hash, is
truncated. The checkpoint's Ed25519 signature is NOT checked here (the
standard library has no Ed25519): check it with `gavel audit verify
--checkpoint FILE`, or trust the file by other means.

Exit 0 when the chain is intact, 1 when it is broken, 2 when the input
cannot be read. Python 3 standard library only.
"""

import base64
import hashlib
import json
import math
import sys

GENESIS = "0" * 64
MAX_SAFE = 2**53


class NoCanonicalForm(Exception):
    pass


def es_number(n):
    """ECMAScript's Number-to-String, which RFC 8785 prescribes."""
    if isinstance(n, bool):
        raise NoCanonicalForm("boolean is not a number")
    if isinstance(n, int):
        if abs(n) > MAX_SAFE:
            raise NoCanonicalForm("integer outside +-2^53")
        return str(n)
    if not math.isfinite(n):
        raise NoCanonicalForm("not a finite number")
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript needs.
    r = repr(abs(n))
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # Position of the decimal point relative to the start of `digits`.
    point = len(ip) + exp - (len(ip + fp) - len((ip + fp).lstrip("0")))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        out = digits + "0" * (point - k)
    elif 0 < point <= 21:
        out = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        out = "0." + "0" * (-point) + digits
    else:
        e = point - 1
        es = ("+" if e >= 0 else "-") + str(abs(e))
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + es
    return sign + out


def jcs_string(s):
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        elif 0xD800 <= o <= 0xDFFF:
            raise NoCanonicalForm("lone surrogate")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def jcs(v):
    """RFC 8785: keys sorted by UTF-16 code units, no whitespace."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return es_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise NoCanonicalForm("not a JSON value")


def entry_hash(e):
    body = {k: e.get(k) for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = jcs(body)
    return hashlib.sha256(
        str(e.get("prev_hash")).encode("utf-8") + text.encode("utf-8")
    ).hexdigest()


def self_valid(e):
    try:
        return entry_hash(e) == e.get("hash")
    except NoCanonicalForm:
        return False


def verify(entries, checkpoint=None):
    """Walk the entries in the order given; return (first_bad, count, last_seq)."""
    count = 0
    last_seq, last_hash = 0, GENESIS
    suspect = None
    successor_later = False
    for e in entries:
        count += 1
        if suspect is not None:
            if e.get("prev_hash") == last_hash:
                successor_later = True
            continue
        seq = e.get("seq")
        linked = e.get("prev_hash") == last_hash
        valid = self_valid(e)
        if seq == last_seq + 1 and linked and valid:
            last_seq, last_hash = seq, e["hash"]
            if checkpoint and checkpoint["seq"] == seq and checkpoint["hash"] != e["hash"]:
                return (seq, "truncated"), count, last_seq
            continue
        suspect = (seq, linked, valid)
    expected = last_seq + 1
    if suspect is not None:
        seq, linked, valid = suspect
        if linked:
            return (expected, "edited"), count, last_seq
        if successor_later:
            return (expected, "reordered"), count, last_seq
        if not isinstance(seq, int) or isinstance(seq, bool):
            return (expected, "edited"), count, last_seq
        if seq <= last_seq:
            return (expected, "reordered"), count, last_seq
        if seq > expected:
            return (expected, "removed"), count, last_seq
        if valid and last_seq >= 1:
            return (last_seq, "edited"), count, last_seq
        return (expected, "edited"), count, last_seq
    if checkpoint and last_seq < checkpoint["seq"]:
        return (expected, "truncated"), count, last_seq
    return None, count, last_seq


def read_checkpoint(path):
    with open(path, encoding="utf-8") as f:
        env = json.load(f)
    payload = json.loads(base64.b64decode(env["payload"]))
    if not isinstance(payload.get("seq"), int) or not isinstance(payload.get("hash"), str):
        raise ValueError("the checkpoint payload has no `seq` and `hash`")
    return {"seq": payload["seq"], "hash": payload["hash"]}


def lines(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as e:
                    raise ValueError("line %d is not JSON: %s" % (n, e))


def main(argv):
    args = argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    checkpoint = None
    if "--checkpoint" in args:
        i = args.index("--checkpoint")
        if i + 1 >= len(args):
            print("usage: audit_verify.py EXPORT.jsonl [--checkpoint FILE] [--json]", file=sys.stderr)
            return 2
        try:
            checkpoint = read_checkpoint(args[i + 1])
        except (OSError, ValueError, KeyError, TypeError) as e:
            print("error: cannot read the checkpoint: %s" % e, file=sys.stderr)
            return 2
        del args[i : i + 2]
    if len(args) != 1:
        print("usage: audit_verify.py EXPORT.jsonl [--checkpoint FILE] [--json]", file=sys.stderr)
        return 2
    try:
        first_bad, count, last_seq = verify(lines(args[0]), checkpoint)
    except (OSError, ValueError) as e:
        print("error: cannot read `%s`: %s" % (args[0], e), file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({
            "valid": first_bad is None,
            "entries": count,
            "last_seq": last_seq,
            "first_bad": None if first_bad is None else {"seq": first_bad[0], "kind": first_bad[1]},
        }))
    elif first_bad is None:
        print("audit chain intact: %d entries, last seq %d" % (count, last_seq))
    else:
        print("audit log broken at seq %d: %s" % first_bad)
    return 0 if first_bad is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

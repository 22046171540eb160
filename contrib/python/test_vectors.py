#!/usr/bin/env python3
"""Checks contrib/python/lethe_format.py against Lethe's committed test vectors (Tests/Vectors/format-v1.json).

Usage: test_vectors.py [VECTORS.json]. Exit 0 when every vector holds, 1 (naming the first that does not) otherwise.
`make test` runs it (FormatVectorsTests).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lethe_format as lf  # noqa: E402


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        vectors = json.load(handle)
    failures = []

    def check(what, got, expected):
        if got != expected:
            failures.append(f"{what}: got {got!r}, expected {expected!r}")

    keyring = vectors["keyring"]
    root, kek = bytes.fromhex(keyring["root"]), bytes.fromhex(keyring["kek"])

    index = vectors["blind_index"]
    index_key = lf.derive_key(root, index["hkdf_info"])
    check("blind-index key", index_key.hex(), index["key"])
    for number in index["numbers"]:
        e164 = lf.normalise(number["written"], number["region"])
        check(f"E.164 of {number['written']!r} ({number['region']})", e164, number["e164"])
        for bits in (32, 24, 20):
            check(f"{bits}-bit index of {e164}", lf.blind_index(index_key, e164, bits).hex(), number[f"index_{bits}"])
    if not failures:
        print("blind indexes ok")

    data = vectors["data_key"]
    data_key = bytes.fromhex(data["key"])
    wrapped = lf.wrap_data_key(data_key, kek, data["customer"], data["key_id"], data["kek_id"], bytes.fromhex(data["nonce"]))
    check("data-key associated data", lf.wrap_context(data["customer"], data["key_id"], data["kek_id"]).decode(), data["associated_data"])
    check("wrapped data key", wrapped.hex(), data["wrapped"])
    try:
        check("unwrapped data key", lf.unwrap_data_key(bytes.fromhex(data["wrapped"]), kek, data["customer"], data["key_id"], data["kek_id"]).hex(), data["key"])
    except Exception as error:  # InvalidTag
        failures.append(f"the committed wrapped key does not unwrap: {type(error).__name__}")
    if not failures:
        print("data key ok")

    for entry in vectors["envelopes"]:
        where = f"{entry['table']}.{entry['column']} row {entry['row']} (v{entry['version']})"
        ad = lf.associated_data(entry["version"], entry["key_id"], entry["table"], entry["column"], entry["customer"], entry["row"])
        check(f"associated data of {where}", ad.decode(), entry["associated_data"])
        sealed = lf.seal(entry["plaintext"].encode(), data_key, entry["key_id"], entry["table"], entry["column"], entry["customer"],
                         entry["row"], version=entry["version"], nonce=bytes.fromhex(entry["nonce"]))
        check(f"envelope of {where}", sealed.hex(), entry["envelope"])
        check(f"text form of {where}", lf.text_form(sealed), entry["text_form"])
        for stored in (bytes.fromhex(entry["envelope"]), entry["text_form"]):
            try:
                opened = lf.open_envelope(stored, data_key, entry["table"], entry["column"], entry["customer"], entry["row"]).decode()
                check(f"plaintext of {where}", opened, entry["plaintext"])
            except Exception as error:
                failures.append(f"the committed envelope of {where} does not open: {type(error).__name__}")
        if entry["version"] == 2:
            try:
                lf.open_envelope(bytes.fromhex(entry["envelope"]), data_key, entry["table"], entry["column"], entry["customer"], entry["row"] + 1)
                failures.append(f"the envelope of {where} opened in another row")
            except Exception:
                pass
    if not failures:
        print("envelopes ok")

    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Vectors", "format-v1.json")
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default))

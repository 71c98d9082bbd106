#!/usr/bin/env python3
"""Computes the reference vectors the built-in embedder is checked against
(crates/embedder/tests/fixtures/all-MiniLM-L6-v2.json) with sentence-transformers itself.

Run once, by hand, in a throwaway venv outside the repository (sentence-transformers pulls in
torch, gigabytes that neither the tests nor the product need):

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python scripts/reference-embeddings.py .tools/models/all-MiniLM-L6-v2 \
        > crates/embedder/tests/fixtures/all-MiniLM-L6-v2.json
"""
import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

# Short and long, plain and punctuated, accented, non-Latin, empty, and one longer than the
# model's 256-token window (so truncation is checked too).
SENTENCES = [
    "The cat sits on the mat.",
    "A feline is resting on a rug.",
    "How do I back up my laptop before travelling?",
    "Vitamin D deficiency is associated with an increased risk of fractures in older adults.",
    "Rust's ownership model prevents data races at compile time.",
    "Naïve café résumé — accents, punctuation & symbols: 42%!",
    "東京は日本の首都です。",
    "ERROR 404: page not found",
    "hi",
    "",
    " ".join(
        f"Paragraph {i}: the quarterly report covers revenue, churn, hiring and the roadmap."
        for i in range(40)
    ),
]


def main() -> None:
    model_dir = sys.argv[1]
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(SENTENCES, batch_size=4, normalize_embeddings=False, convert_to_numpy=True)
    json.dump(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "made_by": f"sentence-transformers {sentence_transformers.__version__}, "
            f"torch {torch.__version__}, CPU, scripts/reference-embeddings.py",
            "max_seq_length": model.max_seq_length,
            "sentences": SENTENCES,
            "vectors": [[round(float(x), 7) for x in v] for v in vectors],
        },
        sys.stdout,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

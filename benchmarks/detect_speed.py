"""How fast the AI-text detector judges a 500-word document on one core (issue #4, item 2).

Runs the full ``ai-text`` detector (language model, features, classifier and the passage
explanation) on the dev texts of 450-600 words, one thread, model loading excluded, and prints
the median seconds per document and documents per second. Needs the training data beside the
project (``../shared/data/textdetect/dev.jsonl``) and the ``detect`` extra with the model wheel.

    OMP_NUM_THREADS=1 python benchmarks/detect_speed.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import torch

from hallmark.analysis.base import WorkInput
from hallmark.analysis.text_detector import TextDetector
from hallmark.analysis.text_features import shared_model
from hallmark.core.labels import OriginLabel

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "textdetect" / "dev.jsonl"


def main() -> None:
    torch.set_num_threads(1)
    with DEV.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    docs = [r["text"] for r in records if 450 <= len(r["text"].split()) <= 600]
    detector = TextDetector()
    shared_model()

    def judge(text: str) -> None:
        detector.analyze(WorkInput("text", "text/plain", b"", OriginLabel.HUMAN_MADE, text=text))

    judge(docs[0])  # warm-up: first calls allocate
    times = []
    for text in docs:
        start = time.perf_counter()
        judge(text)
        times.append(time.perf_counter() - start)
    words = statistics.mean(len(t.split()) for t in docs)
    print(
        json.dumps(
            {
                "date": date.today().isoformat(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "documents": len(docs),
                "mean_words": round(words, 1),
                "median_seconds": round(statistics.median(times), 3),
                "documents_per_second": round(len(docs) / sum(times), 3),
            }
        )
    )


if __name__ == "__main__":
    main()

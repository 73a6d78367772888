"""How fast the bundled muse answers (issue #8): time to first token and tokens per second.

Runs the ``smollm2`` backend (SmolLM2-135M-Instruct, the model the AI-text detector shares) on
real muse prompts, built by :func:`hallmark.muse.prompts.build_prompt` from three drafts of
about 900 characters in each of the four modes, with two passages of "earlier work" quoted as
the writer's voice, as the muse sends them. Each configuration (torch threads 1 and 2) answers
every prompt once after a warm-up; the figures are medians over the prompts. Model loading is
excluded (it happens once per process, in the background when the editor opens).

- *first token*: from asking to the first generated text (the "1." a numbered answer starts
  with is written before the model runs, so it does not count);
- *tokens per second*: generated tokens after the first, over the time they took.

    .venv/bin/python benchmarks/muse_bench.py [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import date

import torch

from hallmark.analysis.text_features import shared_model
from hallmark.muse.backends import LocalBackend
from hallmark.muse.base import Mode, Prompt
from hallmark.muse.prompts import build_prompt

DRAFTS = (
    "The tide went out at noon, and the gulls came down to argue over what it left. Nobody on "
    "the quay looked up. Mara sat on the harbour wall with her father's letter folded in her "
    "coat, unopened for three days now, and watched the boats lean on their moorings as the "
    "water drained away beneath them. She had told herself she would read it when the tide "
    "turned. Then when the ferry came. Then when the light went. Each time the moment passed "
    "and the letter stayed where it was, a small square weight against her ribs. Her brother "
    "had phoned twice. She had let it ring. Down on the mud a boy in red boots was digging for "
    "something, stopping now and then to look back at the town as if someone might call him "
    "home. She envied him the simplicity of the shovel.",
    "Most arguments for remote work rest on productivity, and productivity is the weakest "
    "ground to stand on. It is hard to measure, easy to fake, and it changes with the kind of "
    "work being done. A better argument starts with time: the two hours a day that commuting "
    "takes from people who never get them back. Those hours are not neutral. They fall "
    "hardest on those who live furthest from the centre, usually because they cannot afford "
    "to live closer. An office that demands presence five days a week is, in effect, charging "
    "its lowest-paid staff the most to work there. Employers rarely put it that way, but the "
    "arithmetic is plain, and it does not depend on any claim about output at all.",
    "My grandmother kept bees behind the orchard, in white hives that leaned a little more "
    "every year. She never wore gloves. She said the bees knew her, and that they could smell "
    "fear the way dogs could, which I did not believe until the summer I was stung eleven "
    "times in one afternoon. She laughed at me, then put vinegar on each sting and told me "
    "the names she had given the queens. Every queen had a name from the Bible. The one that "
    "year was Deborah. When she died the hives went to a neighbour, and I am told that in the "
    "spring after the funeral two of them swarmed and were never found.",
)
VOICE = (
    "The harbour lights came on one by one while the fishermen mended their nets, and the "
    "tide turned quietly under the old stone pier at dusk.",
    "We did not talk about my father at dinner. We talked about the weather, which in our "
    "house was the same thing.",
)


def prompts() -> list[Prompt]:
    found = []
    for draft in DRAFTS:
        for mode in Mode:
            found.append(build_prompt(mode, text=draft, voice=VOICE))
    return found


def run(backend: LocalBackend, prompt: Prompt, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to the first generated text, generated tokens a second after it, tokens)."""
    tokenizer = shared_model().tokenizer
    start = time.perf_counter()
    first_at: float | None = None
    pieces: list[str] = []
    for piece in backend.stream(prompt, max_tokens=max_tokens, seed=11):
        if prompt.prefix and not pieces and piece == prompt.prefix:
            pieces.append(piece)
            continue
        if first_at is None:
            first_at = time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    generated = "".join(pieces)[len(prompt.prefix) :]
    tokens = len(tokenizer(generated, add_special_tokens=False)["input_ids"])
    first = (first_at or end) - start
    rate = (tokens - 1) / (end - first_at) if first_at and tokens > 1 and end > first_at else 0.0
    return first, rate, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    model = shared_model()
    backend = LocalBackend()
    every = prompts()
    prompt_tokens = [
        len(
            model.tokenizer(
                model.tokenizer.apply_chat_template(
                    p.as_chat(), add_generation_prompt=True, tokenize=False
                )
                + p.prefix,
                add_special_tokens=False,
            )["input_ids"]
        )
        for p in every
    ]
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        run(backend, every[0], 8)  # warm-up: the first call allocates
        firsts, rates = [], []
        for prompt in every:
            first, rate, _ = run(backend, prompt, args.max_tokens)
            firsts.append(first)
            rates.append(rate)
        results.append(
            {
                "threads": threads,
                "first_token_median_s": round(statistics.median(firsts), 3),
                "first_token_max_s": round(max(firsts), 3),
                "tokens_per_second_median": round(statistics.median(rates), 1),
            }
        )
    print(
        json.dumps(
            {
                "date": date.today().isoformat(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                # The machine is shared: the load when the run ended says how far to trust it.
                "load_average_1m": round(os.getloadavg()[0], 2),
                "torch": torch.__version__,
                "precision": str(model.model.dtype),
                "prompts": len(every),
                "prompt_tokens_median": statistics.median(prompt_tokens),
                "max_new_tokens": args.max_tokens,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

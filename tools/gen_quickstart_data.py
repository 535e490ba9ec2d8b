#!/usr/bin/env python3
"""The quickstart's dataset: small arithmetic and pattern questions as prompt/completion pairs
(jobs/data/arith_train.jsonl, jobs/data/arith_eval.jsonl), plus a plain-text corpus of the same
examples (jobs/data/arith_corpus.txt) that `vkft init-model --corpus` trains the quickstart
model's byte-level BPE tokenizer on. Deterministic (seeded); standard library only.

Run: python3 tools/gen_quickstart_data.py
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jobs", "data")
WORDS = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "river", "stone"]


def example(rng):
    kind = rng.randrange(4)
    a, b = rng.randrange(0, 50), rng.randrange(0, 50)
    if kind == 0:
        return f"What is {a} plus {b}?", f" {a + b}."
    if kind == 1:
        hi, lo = max(a, b), min(a, b)
        return f"What is {hi} minus {lo}?", f" {hi - lo}."
    if kind == 2:
        w = rng.choice(WORDS)
        return f"Spell {w} backwards.", " " + w[::-1] + "."
    seq = [rng.choice(WORDS) for _ in range(3)]
    return "Repeat: " + " ".join(seq), " " + " ".join(seq) + "."


def main():
    rng = random.Random(1234)
    os.makedirs(OUT, exist_ok=True)
    train = [example(rng) for _ in range(2000)]
    evals = [example(rng) for _ in range(64)]
    for name, rows in (("arith_train.jsonl", train), ("arith_eval.jsonl", evals)):
        with open(os.path.join(OUT, name), "w") as f:
            for p, c in rows:
                f.write(json.dumps({"prompt": "Q: " + p + "\nA:", "completion": c}) + "\n")
    with open(os.path.join(OUT, "arith_corpus.txt"), "w") as f:
        for p, c in train[:1000]:
            f.write("Q: " + p + "\nA:" + c + "\n")


if __name__ == "__main__":
    main()

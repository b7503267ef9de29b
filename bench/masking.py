"""Masking speed: the cost of `datakit.log.redact` on every log line, against formatting that line.

Ten secrets (three weak, masked as whole tokens; two with a Basic-auth user), each with its ~15 forms,
compiled once into one pattern. Measured on a typical log line with no secret in it (the common case)
and on one that carries three forms, next to two baselines from the same run: formatting the log
record (what every line costs anyway) and the obvious alternative, one `str.replace` per form.
Prints its figures last, one `name: value` a line.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote_plus

from datakit.log import redact, register_secret
from datakit.masking import MASK, basic_forms, forms

LINE = (
    "2026-03-29 01:00:02,113 INFO datakit.load: pagila_bronze.rental: 16044 rows read, 16044 loaded, "
    "0 rejected in 1.84s into br__pagila__public.rental (merge on rental_id)"
)
ROUNDS = 20_000


def per_call_us(function: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Best of five timings of `rounds` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            function()
        best = min(best, time.perf_counter() - started)
    return best / rounds * 1e6


def main() -> None:
    strong = [secrets.token_urlsafe(18) + "+/=é" for _ in range(7)]
    weak = ["datakit", "Kp4-x", "warehouse"]
    started = time.perf_counter()
    for value in strong + weak:
        register_secret(value)
    for value in strong[:2]:
        register_secret(value, user="loader")
    redact("")  # builds the pattern
    build_ms = (time.perf_counter() - started) * 1e3

    all_forms = sorted(
        {f for v in strong + weak for f in forms(v)}
        | {f for v in strong[:2] for f in basic_forms("loader", v)},
        key=len,
        reverse=True,
    )

    def naive(text: str) -> str:
        for form in all_forms:
            text = text.replace(form, MASK)
        return text

    leaky = f"{LINE} GET /api?key={quote_plus(strong[0])} token {strong[1]} pw datakit"
    record = logging.LogRecord("datakit.load", logging.INFO, __file__, 1, "%s", (LINE,), None)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    assert strong[0] not in redact(leaky)
    assert quote_plus(strong[0]) not in redact(leaky)

    format_us = per_call_us(lambda: formatter.format(record))
    clean_us = per_call_us(lambda: redact(LINE))
    leaky_us = per_call_us(lambda: redact(leaky))
    naive_us = per_call_us(lambda: naive(LINE))
    print(f"forms: {len(all_forms)}")
    print(f"build_ms: {build_ms:.2f}")
    print(f"format_line_us: {format_us:.2f}")
    print(f"naive_replace_line_us: {naive_us:.2f}")
    print(f"redact_line_with_leaks_us: {leaky_us:.2f}")
    print(f"redact_line_us: {clean_us:.2f}")
    print(f"redact_vs_naive_ratio: {clean_us / naive_us:.2f}")
    print(f"redact_vs_format_ratio: {clean_us / format_us:.2f}")


if __name__ == "__main__":
    main()

"""Test factories for datakits: rows that fit a contract, and rows that break one of its rules.

    from datakit.factories import build_rows, build_invalid_rows

A thin public name for `datakit.contracts.factories`, where they are documented.
"""

from __future__ import annotations

from datakit.contracts.factories import build_invalid_rows, build_rows

__all__ = ["build_invalid_rows", "build_rows"]

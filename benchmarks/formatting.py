"""Numbers and Markdown as the benchmark report writes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

MIB = 2**20
T = TypeVar("T")


def shown(text: Callable[[T], str], value: T | None) -> str:
    """``text(value)``, or "–" for a value not measured."""
    return "–" if value is None else text(value)


def ms(seconds: float) -> str:
    """Milliseconds, with fewer decimals the larger they are."""
    if seconds >= 0.1:
        return f"{seconds * 1000:,.0f}"
    return f"{seconds * 1000:.1f}" if seconds >= 0.001 else f"{seconds * 1000:.3g}"


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / MIB:,.0f}"


def ratio(value: float) -> str:
    """A ratio with two decimals."""
    return f"{value:.2f}×"


def factor(value: float) -> str:
    """A ratio with one decimal."""
    return f"{value:.1f}×"


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; ``align``: "l" or "r" per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def bullets(lines: list[str]) -> str:
    """A Markdown list."""
    return "\n".join(f"- {line}" for line in lines)


def fmt_load(values: list[float]) -> str:
    """Load averages."""
    return ", ".join(f"{value:.2f}" for value in values)

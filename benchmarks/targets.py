"""The targets of the benchmarks, met or not: those of a CPU run and those of a GPU run."""

from __future__ import annotations

from collections.abc import Callable

from formatting import mib, ms, ratio, table
from summary import NotMeasured, Summary

PIPELINE_TARGET_SECONDS = 60


def target(name: str, evaluate: Callable[[], tuple[str, bool, str]]) -> dict:
    """One row of a targets table; ``evaluate()`` gives (measured, met, why not met).

    Returns {target, measured, met, why}: ``met`` True or False (``why`` says by how much it was
    missed, else None), or None where a group the target needs was not measured (``measured``
    then names it).
    """
    try:
        measured, met, why = evaluate()
    except NotMeasured as missing:
        return {"target": name, "measured": f"needs {missing}", "met": None, "why": None}
    return {"target": name, "measured": measured, "met": met, "why": None if met else why}


def at_most(value: float, limit: float, compared: str) -> tuple[str, bool, str]:
    """(measured, met, why not) of the target ratio ``value`` ≤ ``limit``; ``compared`` says
    what the ratio is of."""
    return f"{compared}: {ratio(value)}", value <= limit, f"{(value - limit) * 100:.0f} points over"


def faster(seconds: float, other: float, compared: str) -> tuple[str, bool, str]:
    """(measured, met, why not) of the target ``seconds`` < ``other``."""
    return (
        f"{compared}: {ratio(seconds / other)}",
        seconds < other,
        f"{(seconds / other - 1) * 100:.0f}% slower",
    )


def targets_table(rows: list[dict]) -> str:
    """A Markdown table of target rows ({target, measured, met} and optionally why, as
    :func:`gpu_targets` makes them); met reads "yes", "**no**: why" or "not measured"."""
    cells = []
    for row in rows:
        if row["met"] is None:
            verdict = "not measured"
        elif row["met"]:
            verdict = "yes"
        else:
            verdict = "**no**" + (f": {row['why']}" if row.get("why") else "")
        cells.append([row["target"], row["measured"], verdict])
    return table(["target", "measured", "met"], cells, "lll")


def cpu_targets(results: dict) -> list[dict]:
    """The targets of issue 6 (§4) for a CPU run, as rows of :func:`target`."""
    s, train_batch = Summary(results), results["settings"]["train_batch"]

    def per_step() -> tuple[str, bool, str]:
        fast, autograd = s.step(8, "fast"), s.step(8, "autograd")
        return (
            f"{ms(fast)} vs {ms(autograd)} ms per step and image: {autograd / fast:.1f}×",
            autograd >= 5 * fast,
            f"{autograd / fast:.1f}× instead of 5×",
        )

    def tts30() -> tuple[str, bool, str]:
        plain, refined = s.plain(8), s.dis(8, "fast/30")
        return at_most(refined / plain, 1.3, f"{ms(refined)} vs {ms(plain)} ms per image")

    def deeplab() -> tuple[str, bool, str]:
        plain, other = s.plain(8), s.deeplab(8)
        return faster(plain, other, f"{ms(plain)} vs {ms(other)} ms per image")

    def stage3() -> tuple[str, bool, str]:
        refined, stage1 = s.train("DIS stage 3, ttr=30"), s.train("DIS stage 1")
        return at_most(refined / stage1, 1.5, f"{refined:.2f} vs {stage1:.2f} s")

    def memory() -> tuple[str, bool, str]:
        one, thirty = s.steps_peak(8, "fast/1")[0], s.steps_peak(8, "fast/30")[0]
        return (
            f"{mib(thirty)} vs {mib(one)} MiB: {(thirty / one - 1) * 100:+.1f}%",
            thirty <= 1.1 * one,
            f"{(thirty / one - 1.1) * 100:.0f} points over",
        )

    return [
        target("fast iterative inference ≥ 5× cheaper per step than autograd (batch 8)", per_step),
        target("DIS tts=30 ≤ 1.3× DIS tts=0 (fast, batch 8)", tts30),
        target("DIS tts=0 faster than deeplabv3_resnet101 (batch 8)", deeplab),
        target(f"stage-3 step with ttr=30 ≤ 1.5× a stage-1 step (batch {train_batch})", stage3),
        target("peak memory of tts=30 within 10% of tts=1 (fast, batch 8)", memory),
    ]


def gpu_targets(results: dict, pipeline_seconds: float | None = None) -> list[dict]:
    """The GPU targets for the results of a CUDA run, as rows of :func:`target` (render them
    with :func:`targets_table`).

    DIS times are encode + iterative inference per image on the default path (``method="auto"``
    replayed from a CUDA graph: fast steps, or the autograd descent at tts=0), fp32.
    ``pipeline_seconds``: the wall time of ``make train ARGS=trainer=gpu``, which ``make bench``
    does not measure; None reads "not measured".
    """
    s, train_batch = Summary(results), results["settings"]["train_batch"]

    def steps() -> tuple[str, bool, str]:
        seconds = {name: s.steps(8, variant) for name, variant in s.refined_paths(8).items()}
        best = min(seconds, key=seconds.get)
        measured = "; ".join(f"{name}: {ms(value)} ms" for name, value in seconds.items())
        over = f"{best}: {ms(seconds[best] - 0.003)} ms over"
        return f"{measured} per batch", seconds[best] <= 0.003, over

    def stage3() -> tuple[str, bool, str]:
        refined, plain = s.train("DIS stage 3, ttr=30"), s.train("DIS stage 3, ttr=0")
        return at_most(refined / plain, 1.2, f"{ms(refined)} vs {ms(plain)} ms")

    def deeplab() -> tuple[str, bool, str]:
        plain, other = s.default(8, 0), s.deeplab(8)
        return faster(plain, other, f"{ms(plain)} vs {ms(other)} ms per image")

    def pipeline() -> tuple[str, bool, str]:
        if pipeline_seconds is None:
            raise NotMeasured("a timing of its own (not part of `make bench`)")
        over = pipeline_seconds - PIPELINE_TARGET_SECONDS
        return f"{pipeline_seconds:.0f} s", over <= 0, f"{over:.0f} s over"

    return [
        tts_target(s, 8, 1.15),
        tts_target(s, 1, 1.5),
        target("30 iterative-inference steps ≤ 3 ms at batch 8 (per batch; best path)", steps),
        target(
            f"stage-3 step with ttr=30 ≤ 1.2× a stage-3 step with ttr=0 (batch {train_batch})",
            stage3,
        ),
        target("DIS tts=0 faster than deeplabv3_resnet101 (batch 8, fp32)", deeplab),
        target(f"`make train ARGS=trainer=gpu` ≤ {PIPELINE_TARGET_SECONDS} s", pipeline),
    ]


def tts_target(s: Summary, batch: int, limit: float) -> dict:
    """The target DIS tts=30 ≤ ``limit`` × DIS tts=0 at ``batch``, a row of :func:`target`:
    tts=0 by the default path, tts=30 by each of :meth:`Summary.refined_paths`, the best one
    judged."""

    def evaluate() -> tuple[str, bool, str]:
        plain = s.default(batch, 0)
        ratios = {
            name: s.dis(batch, f"{variant}/30") / plain
            for name, variant in s.refined_paths(batch).items()
        }
        best = min(ratios, key=ratios.get)
        measured = "; ".join(
            f"{name}: {ms(value * plain)} ms, {ratio(value)}" for name, value in ratios.items()
        )
        over = f"{best}: {(ratios[best] - limit) * 100:.0f} points over"
        return f"{measured} (tts=0: {ms(plain)} ms per image)", ratios[best] <= limit, over

    name = f"DIS tts=30 ≤ {limit}× DIS tts=0 (batch {batch}; method auto, best path)"
    return target(name, evaluate)

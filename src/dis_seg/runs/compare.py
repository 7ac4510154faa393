"""The comparison a reviewer asks for: DIS against its baselines trained as long, on one data
seed. What ``dis-seg-compare`` runs, one job per data seed and *arm*; ``make compare`` runs
every seed and arm (a Hydra multirun, so that a cluster launcher runs them side by side) and
then :mod:`dis_seg.reports.compare`.

Every row trains for the same epochs, E1 + E2 + E3 (``epochs.stage1``, ``stage2``,
``stage3`` of the train config), and is tested at every scheduled t up to ``tts``:

======================  ==============================================================
row (folder)            training
======================  ==============================================================
``supervised``          stage 1 for E1 + E3 epochs on the labelled images alone, then
                        stage 2 (E2: subnet-2, for the test-time steps)
``stage1``              stage 1 for E1 + E3 epochs on the labelled images and the tags of
                        the tag-only images (the paper's "L as missing label"), then stage 2
``ttr0``                stages 1, 2 and 3 with ``ttr=0`` (self-training on the plain
                        predictions)
``ttr30``               DIS: stage 3 with ``ttr=30`` from the very stage 2 of ``ttr0``
======================  ==============================================================

The baselines' stage 1 runs one whole LR schedule over its E1 + E3 epochs
(``stages.s1.module.lr_epochs_after=0``); where the train config has stage 3 continue stage
1's schedule (``lr_epochs_after`` / ``lr_epochs_before``), the DIS rows run that same schedule.

The arms: ``supervised``, ``stage1``, and ``stage3``, which trains ``ttr0`` and then
``ttr30``, so that the two stage-3 rows start from one network and differ by their ``ttr``
alone. The supervised row keeps the labelled images of every batch
(``data.labelled_per_batch``) and drops the tag-only ones, so each of its epochs takes as many
optimizer steps over the same labelled images as the other rows'.

Each run is a ``dis-seg-train`` child process writing ``<seed folder>/<row>/stage<N>`` (the
seed folder is ``paths.output_root`` of the runs); a finished run is taken up, not trained
again, and an interrupted one resumes (``ckpt_path=last``). The test writes each image's
confusion matrices (``evaluation.per_image``) for the paired bootstrap.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose
from omegaconf import DictConfig

from dis_seg.runs.pipeline import run_child

ARMS = ("supervised", "stage1", "stage3")
DIS_TTR = 30


@dataclass(frozen=True)
class StageRun:
    """One ``dis-seg-train`` run of a comparison: ``stage`` of ``row``, with ``overrides``."""

    row: str
    stage: int
    overrides: tuple[str, ...] = field(default=())


def arm_runs(
    arm: str, epochs: dict[str, int], labelled_per_batch: int, seed_folder: Path
) -> list[StageRun]:
    """The runs of ``arm`` in order, given the train config's ``epochs`` and
    ``data.labelled_per_batch``, into ``seed_folder``."""
    longer = (
        f"epochs.stage1={epochs['stage1'] + epochs['stage3']}",
        "stages.s1.module.lr_epochs_after=0",
    )
    if arm == "supervised":
        alone = (
            "data.idw_annotations=null",
            "data.tag_only_rest=false",
            f"data.batch_size={labelled_per_batch}",
        )
        return [StageRun("supervised", 1, longer + alone), StageRun("supervised", 2, alone)]
    if arm == "stage1":
        return [StageRun("stage1", 1, longer), StageRun("stage1", 2)]
    shared = seed_folder / "ttr0" / "stage2" / "checkpoints" / "last.ckpt"
    return [
        StageRun("ttr0", 1),
        StageRun("ttr0", 2),
        StageRun("ttr0", 3, ("ttr=0",)),
        StageRun("ttr30", 3, (f"ttr={DIS_TTR}", f"stages.s3.init_from={shared}")),
    ]


def run_command(run: StageRun, seed_folder: Path, common: list[str]) -> list[str]:
    """The command line of ``run``: the train app with the comparison's ``common`` overrides,
    into ``<seed_folder>/<row>/stage<N>``."""
    return [
        sys.executable,
        "-m",
        "dis_seg.cli.train",
        *common,
        *run.overrides,
        f"stage={run.stage}",
        f"paths.output_root={seed_folder}",
        f"run_name={run.row}",
        "evaluation.per_image=true",
        "ckpt_path=last",
    ]


def compare_arm(cfg: DictConfig) -> int:
    """Train and test the rows of ``cfg.arm`` for data seed ``cfg.data_seed`` (module
    docstring); return the exit status of the first run that failed, else 0."""
    common = [*cfg.train, *cfg.seeded]
    trained = compose("train", common)
    epochs = {stage: trained.epochs[stage] for stage in ("stage1", "stage2", "stage3")}
    seed_folder = Path(cfg.compare_dir) / f"seed{cfg.data_seed}"
    for run in arm_runs(cfg.arm, epochs, trained.data.labelled_per_batch, seed_folder):
        if (seed_folder / run.row / f"stage{run.stage}" / "metrics.json").is_file():
            print(f"{run.row} stage {run.stage}: done, skipped", flush=True)
            continue
        print(f"{run.row} stage {run.stage}: training", flush=True)
        status = run_child(run_command(run, seed_folder, common))
        if status:
            return status
    return 0

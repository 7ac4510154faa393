"""``dis-seg-pipeline [overrides]``: the three stages, then the summary table (``make train``;
:mod:`dis_seg.runs.pipeline`)."""

import argparse
import sys

from dis_seg.errors import PipelineError
from dis_seg.reports.summary import summary_table
from dis_seg.runs.pipeline import (
    check_layout,
    check_resumable,
    on_one_device,
    run_stages,
    stage_folders,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dis-seg-pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the train config")
    overrides = parser.parse_args(argv).overrides
    run_dir, folders = stage_folders(overrides)
    together = on_one_device(overrides)
    try:
        if together:
            check_layout(run_dir, folders)
        check_resumable(folders)
    except PipelineError as error:
        sys.exit(f"dis-seg-pipeline: {error}")
    for stage in folders:
        if stage.done:
            print(f"stage {stage.stage}: done ({stage.folder / 'metrics.json'}), skipped")
        elif stage.checkpoint.is_file():
            print(f"stage {stage.stage}: resuming from {stage.checkpoint}", flush=True)
        else:
            print(f"stage {stage.stage}: training into {stage.folder}", flush=True)
    remaining = [stage for stage in folders if not stage.done]
    status = run_stages(remaining, overrides, together) if remaining else 0
    if status:
        sys.exit(status)
    print(summary_table(run_dir))


if __name__ == "__main__":
    main()

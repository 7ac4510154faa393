"""``dis-seg-dashboard --entity E [--project P] [--group RUN_NAME] [overrides]``: the W&B
workspace of a run (:mod:`dis_seg.reports.dashboard`), saved to W&B.

The Hydra overrides are the run's (``experiment=voc_idw tts=20``, ...): composed with
``conf/train.yaml`` they give the steps t and the classes the panels show, and the defaults of
``--project`` and ``--group`` (``logger.wandb.project`` and ``logger.wandb.group``, the
``run_name``). With ``--dry-run``, or without W&B credentials (``wandb login``), the command
saves nothing and writes the workspace's specification (JSON) to stdout or ``--output``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dis_seg import CONFIG_DIR


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dis-seg-dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entity", required=True, help="the W&B user or team")
    parser.add_argument("--project", help="the W&B project (default: logger.wandb.project)")
    parser.add_argument("--group", help="the W&B group: a run_name (default: logger.wandb.group)")
    parser.add_argument("--dry-run", action="store_true", help="write the specification only")
    parser.add_argument("--output", type=Path, help="the specification's file (default: stdout)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from dis_seg.reports import dashboard
    except ModuleNotFoundError as error:
        if error.name != "wandb_workspaces":
            raise
        sys.exit("dis-seg-dashboard needs wandb-workspaces: pip install 'dis-seg[dashboard]'")
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", args.overrides)
    project = args.project or OmegaConf.select(cfg, "logger.wandb.project")
    group = args.group or OmegaConf.select(cfg, "logger.wandb.group")
    if not (project and group):
        sys.exit("--project and --group are needed when the config has no logger.wandb")
    workspace = dashboard.build_workspace(
        args.entity, project, group, dashboard.RunMetrics.of_config(cfg)
    )
    if not args.dry_run and dashboard.has_credentials():
        workspace.save()
        print(workspace.url)
        return
    if not args.dry_run:
        print("no W&B credentials (wandb login): writing the specification", file=sys.stderr)
    text = json.dumps(dashboard.specification(workspace), indent=2) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

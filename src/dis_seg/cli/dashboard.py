"""``dis-seg-dashboard --entity E [--project P] [--group RUN_NAME] [overrides]``: the W&B
workspace of a run (:mod:`dis_seg.reports.dashboard`), saved to W&B.

The Hydra overrides are the run's (``experiment=voc_idw tts=20``, ...): composed with
``conf/train.yaml`` they give the steps t and the classes the panels show, and the defaults of
``--project`` and ``--group`` (``logger.wandb.project`` and ``logger.wandb.group``, the
``run_name``). With ``--dry-run``, or without W&B credentials (``wandb login``), the command
saves nothing and writes the workspace's specification (JSON) to stdout or ``--output``.
An empty ``--entity``, ``--project`` or ``--group``, or an ``--output`` outside an existing
folder, is one line ``error: ...`` naming the option, and exit status 2, before any work.
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

NAMED_OPTIONS = {"entity": "a W&B user or team", "project": "a W&B project", "group": "a W&B group"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dis-seg-dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entity", required=True, help="the W&B user or team")
    parser.add_argument("--project", help="the W&B project (default: logger.wandb.project)")
    parser.add_argument("--group", help="the W&B group: a run_name (default: logger.wandb.group)")
    parser.add_argument("--dry-run", action="store_true", help="write the specification only")
    parser.add_argument("--output", type=Path, help="the specification's file (default: stdout)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml")
    args = parser.parse_args(argv)
    problem = option_problem(args)
    if problem:
        parser.exit(2, f"error: {problem}\n")
    return args


def option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, naming the option; None when nothing is."""
    for option, expected in NAMED_OPTIONS.items():
        value = getattr(args, option)
        if value is not None and not value.strip():
            return f"--{option}: empty; expected {expected}"
    output = args.output
    if output is None:
        return None
    if output.is_dir():
        return f"--output: {output} is a folder; expected a file"
    if not output.parent.is_dir():
        return f"--output: {output.parent} is not a folder; expected a file in an existing folder"
    return None


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
    if not args.output:
        sys.stdout.write(text)
        return
    try:
        args.output.write_text(text)
    except OSError as error:
        sys.exit(f"error: --output: {error}")


if __name__ == "__main__":
    main()

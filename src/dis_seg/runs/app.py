"""The Hydra apps of dis-seg (``dis-seg-train``, ``-eval``, ``-predict``, ``-diagnose``):
``hydra.main`` whose composition errors read as one line, with the console and log files of
:mod:`dis_seg.runs.console`.

An unknown option of a config group (``experiment=nope``), an unknown key (``tss=3``) or an
override that does not parse prints ``error: <message>`` naming the key, with a guess at the
meant key or the options there are, and exits with status 2, before anything is created; with
``HYDRA_FULL_ERROR=1`` the error keeps its traceback. Hydra reports composition errors itself,
in many lines: :func:`hydra_app` makes it raise them instead, until the validation pass
(:class:`~dis_seg.runs.preflight.CheckBeforeRun`) has started, which gives the run Hydra's
own reporting back (:func:`restore_error_reporting`).
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra.errors import (
    ConfigCompositionException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import DictConfig, OmegaConf

from dis_seg import CONFIG_DIR
from dis_seg.errors import REFUSED, ConfigError, DataError
from dis_seg.runs.console import log_to_files, quiet_known_warnings, route_library_logs
from dis_seg.runs.schema import dotted_keys

FULL_ERROR = "HYDRA_FULL_ERROR"
_USERS_FULL_ERROR: list[str | None] = []
UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'")
TAKEN_KEY = re.compile(r"An item is already at '([^']+)'")


def hydra_app(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], None]]:
    """``hydra.main`` of ``conf/<config_name>.yaml`` for a task, whose composition errors
    print one line and exit with :data:`REFUSED` (module docstring)."""

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], None]:
        @functools.wraps(task)
        def run(cfg: DictConfig) -> Any:
            route_library_logs()
            return task(cfg)

        app = hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)(run)

        @functools.wraps(task)
        def main() -> None:
            quiet_known_warnings()
            users = os.environ.get(FULL_ERROR)
            _USERS_FULL_ERROR.append(users)
            os.environ[FULL_ERROR] = "1"
            try:
                app()
            except (ConfigCompositionException, OverrideParseException) as error:
                if users == "1":
                    raise
                print(f"error: {composition_error(error, config_name)}", file=sys.stderr)
                raise SystemExit(REFUSED) from None
            finally:
                restore_error_reporting()

        return main

    return decorate


@contextmanager
def reported_errors(status: int) -> Iterator[None]:
    """A :class:`ConfigError` or :class:`DataError` (whose messages name the key or file)
    becomes the line ``error: <message>`` on stderr, or its traceback with
    ``HYDRA_FULL_ERROR=1``, and exit ``status``."""
    try:
        yield
    except (ConfigError, DataError) as error:
        log_to_files(f"error: {error}")
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            traceback.print_exc()
        else:
            print(f"error: {error}", file=sys.stderr)
        raise SystemExit(status) from None


def restore_error_reporting() -> None:
    """Give ``HYDRA_FULL_ERROR`` back the value the user set (called once a run's config is
    composed, so that the run's own errors are reported as Hydra reports them)."""
    if not _USERS_FULL_ERROR:
        return
    users = _USERS_FULL_ERROR.pop()
    if users is None:
        os.environ.pop(FULL_ERROR, None)
    else:
        os.environ[FULL_ERROR] = users


def composition_error(error: Exception, config_name: str) -> str:
    """One line for an error of Hydra's composition of ``config_name``."""
    message = str(error)
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        options = ", ".join(error.options or []) or "none"
        if group:
            return f"{group}={option}: no such option of {group}/; expected one of {options}"
        return f"{option}: no such config; expected one of {options}"
    if isinstance(error, OverrideParseException):
        return f"{error.override}: not an override ({message.splitlines()[0]})"
    unknown = UNKNOWN_KEY.search(message)
    if unknown:
        key = unknown[1]
        return f"{key}: unknown key; {meant_key(key, config_name)}"
    taken = TAKEN_KEY.search(message)
    if taken:
        return f"+{taken[1]}: the key exists; set it without the +"
    return message.strip().splitlines()[0]


def meant_key(key: str, config_name: str) -> str:
    """``did you mean X?`` for an unknown dotted ``key``, from the keys of ``config_name``."""
    try:
        with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
            known = dotted_keys(OmegaConf.to_container(compose(config_name), resolve=False))
    except (ConfigError, ConfigCompositionException):
        known = []
    guesses = difflib.get_close_matches(key, known, n=3)
    return f"did you mean {' or '.join(guesses)}?" if guesses else "--cfg job lists the keys"

"""The files of ``dis-seg-predict``: the images it reads from ``input_dir``, the outputs it writes
for them, the manifest by which it replaces its own earlier outputs and nothing else, and the
lock by which one run at a time writes into a folder.

The promise: a run never writes over a file that it did not write itself, in this run or an
earlier run into the same folder; the folder's manifest lists exactly the files written; and one
run at a time writes into a folder.

The manifest ``predict_manifest.jsonl`` holds one JSON line ``{"file": "<relative path>"}`` per
file that a run wrote there. A run appends each line, synced to disk, as soon as its file is
written (never rewriting the manifest, however many files it writes), and SIGINT and SIGTERM
wait until both are done, so that a stopped run leaves no file unlisted; a last line without its
newline (a run killed while appending) is ignored, and cut off by the next run. (SIGKILL cannot
wait: it can leave the one file being written unlisted, which later runs then refuse to
replace.) A run may write a file that does not exist; it replaces one that exists only when the
manifest lists it and ``overwrite=true`` — never a file of the user's, never an input (also
through a symbolic or hard link), and never into a folder that overlaps ``input_dir`` or that
it may not write.

The lock ``predict.lock`` (:func:`one_run_at_a_time`) is held for the whole run; it is made
only beside a manifest, so that a file of that name in a folder without one is the user's.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from dis_seg.data import VOC_CLASSES
from dis_seg.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
MANIFEST = "predict_manifest.jsonl"
LOCK = "predict.lock"
WRITER = "dis-seg-predict"
OVERLAYS = "overlays"
TAGS_JSON = "tags.json"
BROKEN_LINK = "broken link"
LINK_LOOP = "link loop"
# What a run holds back while it writes a file and its line in the manifest.
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class InputImages:
    """The image files of an input folder in name order, its other files, and its symbolic
    links that lead nowhere with the reason (:data:`BROKEN_LINK`, :data:`LINK_LOOP`); the
    last two are skipped."""

    images: list[Path]
    others: list[Path]
    dead_links: dict[Path, str]


def list_images(input_dir: Path) -> InputImages:
    """The files of ``input_dir`` (not its subfolders) by suffix (:data:`IMAGE_SUFFIXES`), and
    its symbolic links that lead nowhere.

    :class:`ConfigError` naming ``input_dir`` when it is no folder, holds neither an image nor
    such a link, or two images with one stem (``a.jpg``, ``a.png``) that would both be written
    as ``a.png``.
    """
    if not input_dir.is_dir():
        state = "is not a folder" if input_dir.exists() else "does not exist"
        raise ConfigError(f"input_dir: {input_dir} {state}; expected a folder of images")
    images: dict[str, Path] = {}
    others = []
    dead_links = {}
    for path in sorted(input_dir.iterdir()):
        if path.is_symlink() and (why := _dead_link(path)):
            dead_links[path] = why
        elif not path.is_file():
            continue
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            others.append(path)
        elif path.stem in images:
            raise ConfigError(
                f"input_dir: {images[path.stem]} and {path} would both be written as "
                f"{path.stem}.png; rename one of them"
            )
        else:
            images[path.stem] = path
    if not images and not dead_links:
        raise ConfigError(f"input_dir: no images in {input_dir} (suffixes {IMAGE_SUFFIXES})")
    return InputImages(list(images.values()), others, dead_links)


def output_names(images: Iterable[Path], overlays: bool, tags_json: bool) -> list[str]:
    """The files a run writes for ``images``, relative to its output folder: ``<stem>.png``,
    ``overlays/<stem>.png`` with ``overlays``, ``tags.json`` with ``tags_json``."""
    stems = [image.stem for image in images]
    names = [f"{stem}.png" for stem in stems]
    if overlays:
        names += [f"{OVERLAYS}/{stem}.png" for stem in stems]
    return [*names, TAGS_JSON] if tags_json else names


def tag_names(
    configured: Sequence[str] | None, trained: Sequence[str] | None, num_classes: int
) -> list[str]:
    """The class names of ``tags.json``: ``configured`` (``class_names``, which must name the
    checkpoint's ``num_classes`` classes), else the checkpoint's ``trained`` names, else VOC's
    for 21 classes, else the class ids."""
    if configured:
        if len(configured) != num_classes:
            raise ConfigError(
                f"class_names: {len(configured)} names for the checkpoint's {num_classes} classes"
            )
        return list(configured)
    if trained:
        return list(trained)
    if num_classes == len(VOC_CLASSES):
        return list(VOC_CLASSES)
    return [str(index) for index in range(num_classes)]


def written_files(folder: Path) -> set[str]:
    """The files that runs listed in ``folder``'s manifest (none without one); a last line
    without its newline, cut by a kill, is ignored."""
    manifest = folder / MANIFEST
    if not os.path.lexists(manifest):
        return set()
    try:
        *lines, _torn = manifest.read_text().split("\n")
        return {_listed_file(line) for line in lines}
    except (OSError, ValueError, TypeError, KeyError):
        raise ConfigError(
            f"output_dir: {manifest} is not a manifest that {WRITER} wrote; choose another "
            "output_dir"
        ) from None


def _listed_file(line: str) -> str:
    """The file of one line of a manifest; an error when it is none."""
    name = json.loads(line)["file"]
    if not isinstance(name, str):
        raise TypeError(name)
    return name


def check_outputs(
    folder: Path,
    names: Sequence[str],
    *,
    input_dir: Path,
    inputs: Sequence[Path],
    overwrite: bool,
) -> None:
    """Raise :class:`ConfigError` naming ``output_dir`` unless a run may write ``names`` into
    ``folder`` (module docstring): the folder is no file, may be written and does not overlap
    ``input_dir``, a lock there lies beside a manifest, and every name that exists there is in
    the manifest, is none of ``inputs`` and ``overwrite`` is set."""
    if _overlap(folder, input_dir):
        raise ConfigError(
            f"output_dir: {folder} overlaps input_dir {input_dir} (the same folder, or one "
            "inside the other); choose an output_dir apart from the inputs"
        )
    for parent in {folder, *((folder / name).parent for name in names)}:
        _check_folder(parent)
    if os.path.lexists(folder / LOCK) and not os.path.lexists(folder / MANIFEST):
        raise _not_written_by_predict(folder / LOCK)
    earlier = written_files(folder)
    input_files = {_file_id(path): path for path in inputs}
    for name in names:
        path = folder / name
        if not os.path.lexists(path):
            continue
        if path.exists() and _file_id(path) in input_files:
            raise ConfigError(
                f"output_dir: {path} is the input {input_files[_file_id(path)]} (through a "
                "link); choose an output_dir apart from the inputs"
            )
        if name not in earlier:
            raise _not_written_by_predict(path)
        if not overwrite:
            raise ConfigError(
                f"output_dir: {folder} holds earlier predictions ({name}); set overwrite=true "
                "to replace them, or choose another output_dir"
            )


def plan_outputs(
    input_dir: Path, folder: Path, *, overlays: bool, tags_json: bool, overwrite: bool
) -> tuple[InputImages, list[str]]:
    """The files of ``input_dir`` and the names of the outputs a run writes for its images
    into ``folder`` (:func:`output_names`), once :func:`check_outputs` allows them."""
    found = list_images(input_dir)
    names = output_names(found.images, overlays, tags_json)
    check_outputs(folder, names, input_dir=input_dir, inputs=found.images, overwrite=overwrite)
    return found, names


@contextmanager
def one_run_at_a_time(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder`` (made, with its manifest, when missing) for the block;
    :class:`ConfigError` naming ``output_dir`` when another run holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).touch()
    lock = FileLock(folder / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(
            f"output_dir: {folder} is in use by another {WRITER} run; wait for it to end or "
            "choose another output_dir"
        ) from None
    try:
        yield
    finally:
        lock.release()


class Manifest:
    """The manifest of an output folder, which a run appends to as it writes its files there
    (module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = written_files(folder)
        _cut_torn_line(folder / MANIFEST)

    def write(self, name: str, save: Callable[[Path], object]) -> Path:
        """``save(path)`` at ``path = folder/name``, then the line of ``name``; SIGINT and
        SIGTERM wait until both are done. An earlier file at ``path`` is removed first, so that
        a link in its place is replaced rather than written through."""
        path = self.folder / name
        with signals_held():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            save(path)
            self.record(name)
        return path

    def record(self, name: str) -> None:
        """Append the line of ``name``, on disk when this returns, unless it is listed."""
        if name in self.files:
            return
        with (self.folder / MANIFEST).open("a") as manifest:
            manifest.write(json.dumps({"file": name}) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
        self.files.add(name)


@contextmanager
def signals_held() -> Iterator[None]:
    """:data:`HELD_SIGNALS` that arrive in the block take effect once it ends (in the main
    thread, the only one that handles signals; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    handlers = {
        number: signal.signal(number, lambda signum, _frame: arrived.append(signum))
        for number in HELD_SIGNALS
    }
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        for number in arrived:
            signal.raise_signal(number)


def _cut_torn_line(manifest: Path) -> None:
    """Cut off a last line without its newline: the append of a killed run."""
    if not manifest.is_file():
        return
    with manifest.open("rb+") as file:
        file.truncate(file.read().rfind(b"\n") + 1)


def _dead_link(path: Path) -> str | None:
    """Why the symbolic link ``path`` leads nowhere (:data:`BROKEN_LINK`, :data:`LINK_LOOP`);
    None when it leads to a file or folder."""
    try:
        path.stat()
    except OSError as error:
        return LINK_LOOP if error.errno == errno.ELOOP else BROKEN_LINK
    return None


def _not_written_by_predict(path: Path) -> ConfigError:
    return ConfigError(
        f"output_dir: {path} exists and was not written by {WRITER}, which never replaces "
        "other files; choose another output_dir"
    )


def _overlap(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def _check_folder(path: Path) -> None:
    """Raise :class:`ConfigError` when ``path`` or the nearest of its parents that exists is
    not a folder that this process may write (``path`` could not be made or written)."""
    existing = next(p for p in (path, *path.parents) if os.path.lexists(p))
    if not existing.is_dir():
        raise ConfigError(f"output_dir: {existing} is a file, expected a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"output_dir: cannot write into {existing} (permission denied or a read-only file "
            "system); choose another output_dir"
        )


def _file_id(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino

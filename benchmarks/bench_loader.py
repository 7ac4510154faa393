"""Training-loader throughput of DISDataModule (images/s) with 0, 1 and 2 workers.

    python benchmarks/bench_loader.py [--data DIR] [--size 64] [--crop-size 64] [--epochs 3]

Without ``--data`` the default synthetic data set (at ``--size``) is generated in a temporary
folder. Each worker count runs ``--epochs`` full epochs of mixed batches (reading, decoding,
augmentation, collation) twice: with workers started every epoch (start-up included, as in
training without persistent workers), and with persistent workers after one warm-up epoch.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dis_seg.data import DISDataModule
from dis_seg.data.synthetic import ensure_generated


def images_per_second(data: Path, workers: int, persistent: bool, args) -> float:
    """Training-loader images/s over ``args.epochs`` epochs (after one warm-up if persistent)."""
    module = DISDataModule(
        voc_root=data / "VOC2012",
        idw_root=data / "IDW",
        idw_hidden_labelmaps="hidden_labelmaps",
        idw_clean_tags="clean_tags.jsonl",
        batch_size=args.batch_size,
        labelled_per_batch=args.batch_size // 2,
        crop_size=args.crop_size,
        num_workers=workers,
        persistent_workers=persistent,
    )
    module.setup("fit")
    loader = module.train_dataloader()
    if persistent:
        for _ in loader:
            pass
    images, start = 0, time.perf_counter()
    for _ in range(args.epochs):
        for batch in loader:
            images += len(batch["id"])
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="synthetic data folder (VOC2012/ and IDW/)")
    parser.add_argument("--size", type=int, default=64, help="generated image side")
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data or ensure_generated(Path(scratch), size=args.size, progress=False)
        rows = [
            (w, images_per_second(data, w, False, args), images_per_second(data, w, True, args))
            for w in args.workers
        ]
    print(f"Training loader, {args.crop_size}² crops, batch {args.batch_size} (half labelled)\n")
    print("| workers | images/s, workers started per epoch | images/s, persistent workers |")
    print("|---:|---:|---:|")
    for workers, fresh, persistent in rows:
        print(f"| {workers} | {fresh:.0f} | {persistent:.0f} |")


if __name__ == "__main__":
    main()

"""``python -m dis_seg.train``: the command ``dis-seg-train`` (:mod:`dis_seg.cli.train`), under
the module path of the project's public surface."""

from dis_seg.cli.train import main

if __name__ == "__main__":
    main()

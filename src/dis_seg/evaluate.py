"""``python -m dis_seg.evaluate``: the command ``dis-seg-eval`` (:mod:`dis_seg.cli.evaluate`), under
the module path of the project's public surface."""

from dis_seg.cli.evaluate import main

if __name__ == "__main__":
    main()

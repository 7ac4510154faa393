"""``python -m dis_seg.predict``: the command ``dis-seg-predict`` (:mod:`dis_seg.cli.predict`),
under the module path of the project's public surface."""

from dis_seg.cli.predict import main

if __name__ == "__main__":
    main()

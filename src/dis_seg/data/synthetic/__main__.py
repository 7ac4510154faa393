"""``python -m dis_seg.data.synthetic``: the command ``dis-seg-synthetic``."""

from dis_seg.cli.synthetic import main

main()

"""The commands of dis-seg, one module each; ``python -m dis_seg.cli.<module>`` runs the same.

- ``dis-seg-train`` (:mod:`.train`): train one stage, then test it (Hydra, ``conf/train.yaml``);
- ``dis-seg-pipeline`` (:mod:`.pipeline`): the three stages and the summary (``make train``);
- ``dis-seg-eval`` (:mod:`.evaluate`): test a checkpoint (Hydra, ``conf/evaluate.yaml``);
- ``dis-seg-diagnose`` (:mod:`.diagnose`): why the steps help or hurt a checkpoint
  (Hydra, ``conf/diagnose.yaml``);
- ``dis-seg-predict`` (:mod:`.predict`): labelmaps of a folder of images (``conf/predict.yaml``);
- ``dis-seg-report`` (:mod:`.report`): the ``ttr × tts`` tables and plot of a multirun folder;
- ``dis-seg-sweeps`` (:mod:`.sweeps`): the checkpoints of a training multirun (``make sweep``);
- ``dis-seg-summary`` (:mod:`.summary`): the tables ``make train`` ends with;
- ``dis-seg-check-data`` (:mod:`.check_data`): inspect a prepared data set;
- ``dis-seg-synthetic`` (:mod:`.synthetic`): write the synthetic data set;
- ``dis-seg-sbd`` (:mod:`.sbd`): VOC's ``train_aug`` split from SBD;
- ``dis-seg-dashboard`` (:mod:`.dashboard`): the W&B workspace of a run (the ``dashboard`` extra).
"""

"""A run of dis-seg: its config schema and the checks before it, the Hydra app wrapper,
building, checkpoints, training, evaluating, predicting a folder, the pipeline, sweeps, the
comparison's runs and recording results."""

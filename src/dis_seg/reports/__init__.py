"""What a run's results tell: the sweep, summary and comparison tables and plots, the
diagnostics of iterative inference and the W&B dashboard."""

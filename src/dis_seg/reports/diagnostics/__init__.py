"""Why iterative inference helps or hurts a checkpoint (:mod:`.measures`), and the report
that shows it (:mod:`.report`); ``dis-seg-diagnose`` runs both."""

from dis_seg.reports.diagnostics.measures import (
    DIRECTIONS,
    KINDS,
    REGIONS,
    EnergyDiagnostics,
    SegmentationDiagnostics,
    StepChanges,
    TagDiagnostics,
    boundary_mask,
)
from dis_seg.reports.diagnostics.report import changes_figure, write_report

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "REGIONS",
    "EnergyDiagnostics",
    "SegmentationDiagnostics",
    "StepChanges",
    "TagDiagnostics",
    "boundary_mask",
    "changes_figure",
    "write_report",
]

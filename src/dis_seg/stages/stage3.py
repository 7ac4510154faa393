"""Stage 3 of DIS: all components, tag-only images taught by their refined predictions."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import SumMetric

from dis_seg.inference import StepOptions, warn_if_stopped
from dis_seg.inference.iterative import eval_mode
from dis_seg.models.losses import reconstruction_loss, segmentation_loss, tag_loss
from dis_seg.models.metrics import SegmentationMetric, TagAgreement
from dis_seg.stages.base import DISModule
from dis_seg.stages.batch_statistics import training_forward
from dis_seg.stages.pseudo_labels import make_pseudo_labels
from dis_seg.stages.reconstruction import frozen, truth_reconstruction_loss


class Stage3Module(DISModule):
    """Stage 3: all four components, tag-only images taught by their own refined predictions.

    Each tag-only image gets ``ttr`` steps of iterative inference (reconstruction + its tags);
    the resulting pseudo labelmap and cleaned tags are its (detached) targets. Labelled images
    use their own labelmaps and tags; the reconstruction loss applies to all images (with
    ``recon_fit="truth"`` it trains the rest of the network through a subnet-2 that learns
    from the ground-truth labelmaps alone).

    Each epoch logs ``pseudo/non_finite_samples``, the tag-only images whose refinement met a
    non-finite energy (one warning gives their count). Where tag-only images carry hidden
    labelmaps (``has_hidden``), it also logs the pseudo-label mIoU (after ``ttr`` steps and at
    t = 0); where they carry clean tags (``has_clean_tags``), the precision/recall/F1 of the
    cleaned and of the noisy input tags against them.

    Args:
        ttr: iterative-inference steps for tag-only images (0: the plain prediction).
        step_size: the gradient step of iterative inference.
        inference_tag_weight: weight of the tag term in the iterative-inference energy.
        tag_threshold, tag_margin: the rule that turns refined tag scores into cleaned tags
            (:func:`~dis_seg.stages.pseudo_labels.make_pseudo_labels`).
        suppress_absent: restrict pseudo labelmaps to the classes of the cleaned tags.
        pseudo_confidence: pixels of a pseudo labelmap whose class has a lower probability
            (softmax of the refined u3) are left out of its segmentation loss (0: none).
        step_options: how the steps are taken: the ``method``, ``cuda_graphs``, ``control``
            and ``compile_steps`` of an ``inference`` config group
            (:meth:`~dis_seg.inference.StepOptions.from_config`; default: its defaults).
        pseudo_features: the features the pseudo labels start from: ``"eval"``, the backbone's
            in eval mode (one more forward pass of the tag-only images, without gradients), or
            ``"train"``, those of the training forward pass (BatchNorm batch statistics).
        bn_statistics: whose BatchNorm statistics normalise the training forward pass of a
            batch of labelled and tag-only images
            (:func:`~dis_seg.stages.batch_statistics.training_forward`).
        recon_fit: what subnet-2 learns from (:data:`~dis_seg.stages.reconstruction.RECON_FITS`):
            ``"prediction"``, the network's labelmaps of all images (the paper); ``"truth"``,
            the ground-truth labelmaps of the labelled images; ``"both"``.
        seg_weight, pseudo_seg_weight, tag_weight, recon_weight: loss weights.
        lr_mult: multiplies the optimizer's ``lr`` in this stage, which starts its own
            optimizer from the network of stage 2.
        lr_epochs_before: epochs of its LR schedule that stage 1 ran, so that stage 3
            continues stage 1's schedule (0: a schedule of its own; :class:`DISModule`).
        warmup_steps: optimizer steps over which the LR of the fresh optimizer rises linearly
            to the schedule's.
    """

    stage = 3

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
        *,
        recon_fit: str,
        ttr: int = 30,
        step_size: float = 1.0,
        inference_tag_weight: float = 1.0,
        tag_threshold: float = 0.5,
        tag_margin: float = 0.0,
        suppress_absent: bool = True,
        pseudo_confidence: float = 0.0,
        step_options: dict[str, Any] | None = None,
        pseudo_features: str = "eval",
        bn_statistics: str = "batch",
        seg_weight: float = 1.0,
        pseudo_seg_weight: float = 1.0,
        tag_weight: float = 1.0,
        recon_weight: float = 1.0,
        lr_mult: float = 1.0,
        lr_epochs_before: int = 0,
        warmup_steps: int = 0,
    ) -> None:
        super().__init__(
            model,
            optimizer,
            class_names,
            lr_epochs_before=lr_epochs_before,
            warmup_steps=warmup_steps,
        )
        self.optimizer_config.lr *= lr_mult
        self.ttr, self.step_size = ttr, step_size
        self.inference_tag_weight, self.tag_threshold = inference_tag_weight, tag_threshold
        self.tag_margin = tag_margin
        self.suppress_absent, self.pseudo_confidence = suppress_absent, pseudo_confidence
        self.step_options = StepOptions.from_config(step_options or {})
        self.pseudo_features = pseudo_features
        self.bn_statistics = bn_statistics
        self.recon_fit = recon_fit
        self.weights = {
            "seg_loss": seg_weight,
            "pseudo_seg_loss": pseudo_seg_weight,
            "tag_loss": tag_weight,
            "recon_loss": recon_weight,
            "recon_truth_loss": recon_weight,
        }
        self.pseudo_iou = SegmentationMetric(self.num_classes)
        self.initial_pseudo_iou = SegmentationMetric(self.num_classes)
        self.cleaned_tags = TagAgreement(self.num_classes)
        self.noisy_tags = TagAgreement(self.num_classes)
        self.pseudo_stopped, self.pseudo_samples = SumMetric(), SumMetric()
        self._saw = {"labelmaps": False, "tags": False}

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        images, labelmap, tags = batch["image"], batch["labelmap"], batch["tags"]
        tag_only = ~batch["has_labelmap"]
        # before the training forward pass, whose batch statistics BatchNorm keeps
        eval_features = self.eval_features(images[tag_only]) if tag_only.any() else None
        out = training_forward(self.model, images, ~tag_only, self.bn_statistics)
        target_tags = tags.clone()
        pseudo_seg, stopped = out.u3.new_zeros(()), tag_only.new_zeros((), dtype=torch.long)
        if tag_only.any():
            pseudo = make_pseudo_labels(
                self.model,
                *(eval_features or (out.u1[tag_only].detach(), out.v1[tag_only].detach())),
                images[tag_only],
                tags[tag_only],
                ttr=self.ttr,
                step_size=self.step_size,
                tag_weight=self.inference_tag_weight,
                tag_threshold=self.tag_threshold,
                tag_margin=self.tag_margin,
                suppress_absent=self.suppress_absent,
                confidence=self.pseudo_confidence,
                options=self.step_options,
            )
            target_tags[tag_only] = pseudo.tags
            pseudo_seg = segmentation_loss(out.u3[tag_only], pseudo.target())
            stopped = pseudo.stopped.sum()
            self._track_pseudo_labels(batch, tag_only, pseudo)
        self.pseudo_samples.update(tag_only.sum())
        self.pseudo_stopped.update(stopped)
        losses = {
            "seg_loss": segmentation_loss(out.u3[~tag_only], labelmap[~tag_only]),
            "pseudo_seg_loss": pseudo_seg,
            "tag_loss": tag_loss(out.v3, target_tags),
            **self._reconstruction_losses(batch, out),
        }
        losses["loss"] = sum(self.weights[name] * value for name, value in losses.items())
        self.log_losses("train", losses, len(images))
        return losses["loss"]

    def eval_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(u1 B×D×h×w, v1 B×D) of tag-only images B×3×H×W that their pseudo labels start from
        with ``pseudo_features="eval"``: the backbone's in eval mode, without gradients (no
        sample's features depend on the others' through batch statistics, as at test time);
        ``None`` with ``"train"``, whose pseudo labels start from the training forward pass."""
        if self.pseudo_features == "train":
            return None
        with torch.no_grad(), eval_mode([self.model.backbone]):
            return self.model.encode(images)

    def _reconstruction_losses(self, batch: dict[str, Any], out) -> dict[str, torch.Tensor]:
        """``recon_loss`` of the predictions of all images and, unless subnet-2 fits the
        predictions alone, ``recon_truth_loss`` of the labelled images' ground truth; with
        ``recon_fit="truth"`` subnet-2 takes no gradient from the former."""
        images = batch["image"]
        if self.recon_fit == "truth":
            with frozen(self.model.reconstruction_head):
                z3 = self.model.reconstruct(out.u3)
        else:
            z3 = out.z3
        losses = {"recon_loss": reconstruction_loss(z3, images)}
        if self.recon_fit != "prediction":
            labelled = batch["has_labelmap"]
            losses["recon_truth_loss"] = truth_reconstruction_loss(
                self.model, images[labelled], batch["labelmap"][labelled], z3.shape[-2:]
            )
        return losses

    def _track_pseudo_labels(self, batch, tag_only, pseudo) -> None:
        changed = (pseudo.labelmap != pseudo.initial_labelmap).float().mean()
        stats = {
            "pseudo/changed_by_ttr": changed,
            "pseudo/foreground_fraction": (pseudo.labelmap > 0).float().mean(),
            "pseudo/cleaned_tags_per_image": pseudo.tags[:, 1:].sum(1).mean(),
            "pseudo/confident_fraction": pseudo.confident.float().mean(),
        }
        for name, value in stats.items():
            self.log(
                name,
                value,
                on_step=False,
                on_epoch=True,
                batch_size=int(tag_only.sum()),
                sync_dist=True,
            )
        hidden = batch["has_hidden"][tag_only]
        if hidden.any():
            self._saw["labelmaps"] = True
            truth = batch["hidden_labelmap"][tag_only][hidden]
            self.pseudo_iou.update(pseudo.labelmap[hidden], truth)
            self.initial_pseudo_iou.update(pseudo.initial_labelmap[hidden], truth)
        known = batch["has_clean_tags"][tag_only]
        if known.any():
            self._saw["tags"] = True
            clean = batch["clean_tags"][tag_only][known]
            self.cleaned_tags.update(pseudo.tags[known], clean)
            self.noisy_tags.update(batch["tags"][tag_only][known], clean)

    def on_train_epoch_end(self) -> None:
        self._log_non_finite_pseudo_labels()
        # every DDP rank computes (a collective) when any rank saw that truth
        saw = {
            truth: self.trainer.strategy.reduce_boolean_decision(seen, all=False)
            for truth, seen in self._saw.items()
        }
        self._saw = dict.fromkeys(self._saw, False)
        if saw["labelmaps"]:
            self.log_synced("pseudo/mIoU", self.pseudo_iou.compute()["mIoU"].float())
            self.log_synced("pseudo/mIoU_t0", self.initial_pseudo_iou.compute()["mIoU"].float())
        if saw["tags"]:
            for name, agreement in (("cleaned", self.cleaned_tags), ("noisy", self.noisy_tags)):
                for score, value in agreement.compute().items():
                    self.log_synced(f"tags/{name}_{score}", value)
        for metric in (
            self.pseudo_iou,
            self.initial_pseudo_iou,
            self.cleaned_tags,
            self.noisy_tags,
        ):
            metric.reset()

    def _log_non_finite_pseudo_labels(self) -> None:
        stopped, samples = (int(m.compute()) for m in (self.pseudo_stopped, self.pseudo_samples))
        warn_if_stopped(stopped, samples, f"epoch {self.current_epoch} pseudo labels")
        self.log_synced("pseudo/non_finite_samples", float(stopped))
        self.pseudo_stopped.reset()
        self.pseudo_samples.reset()

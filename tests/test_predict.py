import hashlib
import json
import shutil
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from dis_seg.cli import predict
from dis_seg.data import VOC_CLASSES
from dis_seg.data.images import read_rgb, voc_palette
from dis_seg.data.samples import make_sample
from dis_seg.data.transforms import eval_transform
from dis_seg.errors import ConfigError
from dis_seg.runs.checkpoints import load_module
from dis_seg.runs.predict_folder import predict_folder, predict_image
from dis_seg.runs.predict_manifest import written_files
from tests.helpers import (
    numpy_miou,
    refused_run,
    run_entry_point,
    start_entry_point,
    tiny_voc_root,
)

TTS = 2  # the pipeline's stage-3 test tts


def images_of(voc, split: str, folder):
    """Copies of the JPEGs of a split of the pipeline's VOC data in ``folder``; their ids."""
    ids = (voc / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
    for image_id in ids:
        shutil.copy(voc / "JPEGImages" / f"{image_id}.jpg", folder)
    return ids


def digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def labelmaps_in(folder) -> set[str]:
    return {path.name for path in folder.glob("*.png")}


def output_files(folder) -> set[str]:
    """The files a run wrote into ``folder`` (relative paths): all but its manifest and lock."""
    files = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    return {name for name in files if not name.startswith(("predict_manifest", "predict.lock"))}


@pytest.fixture(scope="module")
def predicted(pipeline, tmp_path_factory):
    """``dis-seg-predict`` with overlays and tags on the pipeline's test images, an
    odd-sized PNG (not a multiple of the output stride), a text file, a truncated JPEG, a
    broken symbolic link and a symbolic link loop."""
    voc = tiny_voc_root(pipeline.parents[1])
    inputs, outputs = tmp_path_factory.mktemp("inputs"), tmp_path_factory.mktemp("predictions")
    test_ids = images_of(voc, "test", inputs)
    Image.open(inputs / f"{test_ids[0]}.jpg").resize((45, 27)).save(inputs / "odd.png")
    (inputs / "notes.txt").write_text("not an image")
    (inputs / "broken.jpg").write_bytes((inputs / f"{test_ids[0]}.jpg").read_bytes()[:300])
    (inputs / "gone.jpg").symlink_to(inputs / "deleted.jpg")
    (inputs / "loop.jpg").symlink_to(inputs / "loop.jpg")
    result = run_entry_point(
        "dis_seg.cli.predict",
        f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}",
        f"input_dir={inputs}",
        f"output_dir={outputs}",
        f"tts={TTS}",
        "overlays=true",
        "tags_json=true",
        check=False,
    )
    log = result.stdout + result.stderr
    return SimpleNamespace(
        voc=voc, test_ids=test_ids, inputs=inputs, outputs=outputs, log=log, result=result
    )


def test_one_palette_png_per_readable_image_at_its_original_size(predicted):
    names = sorted(path.name for path in predicted.outputs.glob("*.png"))
    assert names == sorted([f"{i}.png" for i in predicted.test_ids] + ["odd.png"])
    for name in names:
        source = next(predicted.inputs.glob(f"{name[:-4]}.*"))
        labelmap = Image.open(predicted.outputs / name)
        assert labelmap.mode == "P"
        assert labelmap.size == Image.open(source).size
    assert Image.open(predicted.outputs / "odd.png").size == (45, 27)


def test_labelmaps_carry_the_voc_palette(predicted):
    palette = Image.open(predicted.outputs / "odd.png").getpalette()
    assert palette[: 3 * 256] == voc_palette().flatten().tolist()


def test_labelmaps_reproduce_the_evaluated_test_mIoU_of_the_checkpoint(predicted, pipeline):
    ids, masks = predicted.test_ids, predicted.voc / "SegmentationClass"
    predictions = [np.asarray(Image.open(predicted.outputs / f"{i}.png")) for i in ids]
    labelmaps = [np.asarray(Image.open(masks / f"{i}.png")) for i in ids]
    evaluated = json.loads((pipeline / "stage3" / "metrics.json").read_text())
    assert evaluated["tts"] == TTS
    assert numpy_miou(predictions, labelmaps, 21) == pytest.approx(
        evaluated["test"]["voc"][f"mIoU_t{TTS}"], abs=1e-9
    )


def test_non_image_file_is_skipped_with_a_warning(predicted):
    assert "skipping" in predicted.log
    assert "notes.txt: not an image" in predicted.log
    assert not (predicted.outputs / "notes.png").exists()


def test_tags_json_holds_refined_tag_scores_by_class_name_per_image(predicted):
    tags = json.loads((predicted.outputs / "tags.json").read_text())
    assert sorted(tags) == sorted([f"{i}.jpg" for i in predicted.test_ids] + ["odd.png"])
    for scores in tags.values():
        assert list(scores) == list(VOC_CLASSES)
        assert all(0 < score < 1 for score in scores.values())


def test_tag_scores_start_from_the_network_tags_and_move_with_the_steps(pipeline):
    module, _ = load_module(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    voc = tiny_voc_root(pipeline.parents[1])
    image = read_rgb(next((voc / "JPEGImages").glob("test_*.jpg")))
    sample = eval_transform()(make_sample("x", image, torch.zeros(module.num_classes)))
    with torch.no_grad():
        plain = module.model(sample["image"][None]).v3[0].sigmoid()
    _, at_0 = predict_image(module.model, image, 0, 1.0)
    _, at_tts = predict_image(module.model, image, TTS, 1.0)
    torch.testing.assert_close(at_0, plain)
    assert not torch.equal(at_tts, at_0)


def test_overlays_are_rgb_images_at_the_original_size(predicted):
    overlay = Image.open(predicted.outputs / "overlays" / "odd.png")
    assert (overlay.mode, overlay.size) == ("RGB", (45, 27))


def test_unreadable_image_is_skipped_named_and_the_run_exits_with_status_1(predicted):
    assert predicted.result.returncode == 1
    assert "skipping" in predicted.log
    assert "broken.jpg: unreadable or truncated" in predicted.log
    assert not (predicted.outputs / "broken.png").exists()
    tagged = json.loads((predicted.outputs / "tags.json").read_text())
    assert "broken.jpg" not in tagged
    assert len(tagged) == len(predicted.test_ids) + 1


def test_the_run_ends_with_a_summary_of_what_it_wrote_and_skipped(predicted):
    written = len(predicted.test_ids) + 1
    summary = predicted.result.stdout.strip().splitlines()[-1]
    assert summary == (
        f"wrote {written} labelmaps ({written} overlays) to {predicted.outputs}; 4 files "
        "skipped: notes.txt (not an image), gone.jpg (broken link), loop.jpg (link loop), "
        "broken.jpg (unreadable)"
    )


@pytest.mark.slow
def test_broken_links_and_link_loops_are_named_and_skipped(predicted):
    assert predicted.result.returncode == 1
    assert "skipping" in predicted.log
    assert "gone.jpg: broken link" in predicted.log
    assert "loop.jpg: link loop" in predicted.log
    assert not {"gone.png", "loop.png"} & labelmaps_in(predicted.outputs)


@pytest.mark.slow
def test_the_manifest_lists_exactly_the_files_written(predicted):
    assert output_files(predicted.outputs) == {
        *(f"{i}.png" for i in predicted.test_ids),
        *(f"overlays/{i}.png" for i in predicted.test_ids),
        "odd.png",
        "overlays/odd.png",
        "tags.json",
    }
    assert written_files(predicted.outputs) == output_files(predicted.outputs)


def test_a_file_of_the_users_named_as_a_skipped_image_is_never_replaced(tiny_model, tmp_path):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    inputs.mkdir()
    Image.new("RGB", (32, 24), (200, 100, 50)).save(inputs / "image.png")
    (inputs / "zero.jpg").write_bytes(b"")
    options = {"tts": 0, "step_size": 1.0, "class_names": list("abcde")}
    result = predict_folder(tiny_model, inputs, outputs, **options)
    assert [path.name for path in result.unreadable] == ["zero.jpg"]
    assert written_files(outputs) == {"image.png"} == output_files(outputs)
    (outputs / "zero.png").write_text("the user's own file")
    with pytest.raises(ConfigError, match=r"zero.png exists and was not written by dis-seg"):
        predict_folder(tiny_model, inputs, outputs, overwrite=True, **options)
    assert (outputs / "zero.png").read_text() == "the user's own file"


def test_a_folder_of_broken_links_is_predicted_with_each_named(tiny_model, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    result = predict_folder(
        tiny_model, inputs, tmp_path / "outputs", tts=0, step_size=1.0, class_names=list("abcde")
    )
    assert result.unreadable == [inputs / "gone.jpg"]
    assert result.summary() == (
        f"wrote 0 labelmaps (0 overlays) to {tmp_path / 'outputs'}; 1 file skipped: gone.jpg "
        "(broken link)"
    )


def test_input_folder_as_output_is_refused_before_anything_is_written(
    pipeline, tmp_path, monkeypatch, capsys
):
    ids = images_of(tiny_voc_root(pipeline.parents[1]), "test", tmp_path)
    before = digests(tmp_path)
    checkpoint = pipeline / "stage3" / "checkpoints" / "last.ckpt"
    arguments = [f"ckpt_path={checkpoint}", f"input_dir={tmp_path}", f"output_dir={tmp_path}"]
    assert refused_run(predict, arguments, monkeypatch) == 2
    assert capsys.readouterr().err == (
        f"error: output_dir: {tmp_path} overlaps input_dir {tmp_path} (the same folder, or one "
        "inside the other); choose an output_dir apart from the inputs\n"
    )
    assert digests(tmp_path) == before
    assert len(before) == len(ids)


def test_predict_folder_never_writes_over_its_inputs(pipeline, tmp_path):
    module, _ = load_module(pipeline / "stage3" / "checkpoints" / "last.ckpt")
    images_of(tiny_voc_root(pipeline.parents[1]), "test", tmp_path)
    before = digests(tmp_path)
    with pytest.raises(ConfigError, match="output_dir: .* overlaps input_dir"):
        predict_folder(
            module.model, tmp_path, tmp_path, tts=0, step_size=1.0, class_names=VOC_CLASSES
        )
    assert digests(tmp_path) == before


def test_stage2_checkpoint_predicts_with_zero_steps_and_no_step_size(pipeline, tmp_path):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    inputs.mkdir()
    ids = images_of(tiny_voc_root(pipeline.parents[1]), "val", inputs)
    run_entry_point(
        "dis_seg.cli.predict",
        f"ckpt_path={pipeline / 'stage2' / 'checkpoints' / 'last.ckpt'}",
        f"input_dir={inputs}",
        f"output_dir={outputs}",
        "tts=0",
    )
    assert sorted(p.name for p in outputs.glob("*.png")) == sorted(f"{i}.png" for i in ids)


def wait_for_a_labelmap(run, folder, log):
    """Wait until ``run`` has written a labelmap into ``folder``; fail if it ends first."""
    while not labelmaps_in(folder):
        if run.poll() is not None:
            raise AssertionError(f"dis-seg-predict wrote no labelmap:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def interrupted(pipeline, tmp_path_factory):
    """``dis-seg-predict`` over many images, paused (SIGSTOP) once it wrote a labelmap while a
    second run goes into its output folder (of other images), then stopped by SIGTERM."""
    voc = tiny_voc_root(pipeline.parents[1])
    root = tmp_path_factory.mktemp("interrupted")
    inputs, others, outputs = root / "inputs", root / "others", root / "outputs"
    inputs.mkdir(), others.mkdir()
    image = next((voc / "JPEGImages").glob("test_*.jpg"))
    for number in range(2000):
        shutil.copy(image, inputs / f"{number:04d}.jpg")
    shutil.copy(image, others / "other.jpg")
    checkpoint = f"ckpt_path={pipeline / 'stage3' / 'checkpoints' / 'last.ckpt'}"
    log = root / "first.log"
    first = start_entry_point(
        "dis_seg.predict", checkpoint, f"input_dir={inputs}", f"output_dir={outputs}", log=log
    )
    wait_for_a_labelmap(first, outputs, log)
    first.send_signal(signal.SIGSTOP)
    second = run_entry_point(
        "dis_seg.predict",
        checkpoint,
        f"input_dir={others}",
        f"output_dir={outputs}",
        "tts=0",
        check=False,
        full_error=False,
    )
    first_still_ran = first.poll() is None
    first.send_signal(signal.SIGTERM)  # delivered when it continues
    first.send_signal(signal.SIGCONT)
    first.wait()
    return SimpleNamespace(
        outputs=outputs, first=first, first_still_ran=first_still_ran, second=second, log=log
    )


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_leaves_a_manifest_of_exactly_the_labelmaps_it_wrote(
    interrupted,
):
    assert interrupted.first_still_ran
    assert interrupted.first.returncode == -signal.SIGTERM
    written = labelmaps_in(interrupted.outputs)
    assert 0 < len(written) < 2000
    assert written_files(interrupted.outputs) == written == output_files(interrupted.outputs)


@pytest.mark.slow
def test_a_second_run_into_a_folder_in_use_is_refused_naming_output_dir(interrupted):
    assert interrupted.first_still_ran
    assert interrupted.second.returncode == 2
    assert interrupted.second.stderr == (
        f"error: output_dir: {interrupted.outputs} is in use by another dis-seg-predict run; "
        "wait for it to end or choose another output_dir\n"
    )
    assert "other.png" not in labelmaps_in(interrupted.outputs)

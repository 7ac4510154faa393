import pytest
import torch
from torch._dynamo.utils import counters
from torch.utils._python_dispatch import TorchDispatchMode

from dis_seg.inference import StepOptions, iterative_inference, predict
from dis_seg.inference.descent import StepControl
from dis_seg.models import upsample_logits
from tests.helpers import assert_fast_matches_autograd

# Operators that hand a tensor value to the host (``.item()``, ``bool(tensor)``, ``nonzero``):
# on a GPU each one waits for every kernel queued before it.
HOST_READS = {"_local_scalar_dense", "is_nonzero", "nonzero", "item", "equal"}


class HostReads(TorchDispatchMode):
    """Counts the operators of :data:`HOST_READS` that run while it is active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def batch(tiny_model):
    torch.manual_seed(1)
    images = torch.randn(3, 3, 32, 40)
    with torch.no_grad():
        u1, v1 = tiny_model.encode(images)
    return u1, v1, images


def test_energy_decreases_at_every_small_step(tiny_model, batch):
    result = iterative_inference(tiny_model, *batch, steps=10, step_size=20.0)
    assert result.energy.shape == (11, 3)
    assert (result.energy[1:] < result.energy[:-1]).all()


def test_parameters_buffers_and_grads_are_untouched(tiny_model, batch):
    tiny_model.train()
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    result = iterative_inference(tiny_model, *batch, steps=3, step_size=20.0, tags=torch.ones(3, 5))
    after = tiny_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in tiny_model.parameters())
    assert all(m.training for m in tiny_model.modules())
    assert not any(t.requires_grad for t in (result.u1, result.v1, result.u3, result.energy))


def test_mixed_module_modes_are_restored_individually(tiny_model, batch):
    tiny_model.train()
    tiny_model.backbone.eval()
    iterative_inference(tiny_model, *batch, steps=1, step_size=1.0)
    assert tiny_model.training
    assert not tiny_model.backbone.training
    assert tiny_model.reconstruction_head.training


def test_sample_trajectory_does_not_depend_on_batch_companions(tiny_model, batch):
    u1, v1, images = batch
    tags = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 1, 0]]).float()
    together = iterative_inference(tiny_model, u1, v1, images, steps=5, step_size=50.0, tags=tags)
    alone = iterative_inference(
        tiny_model, u1[1:2], v1[1:2], images[1:2], steps=5, step_size=50.0, tags=tags[1:2]
    )
    torch.testing.assert_close(together.u3[1:2], alone.u3, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(together.energy[:, 1:2], alone.energy, rtol=1e-5, atol=1e-7)


def test_tag_term_raises_probability_of_the_given_tags(tiny_model, batch):
    tags = torch.zeros(3, 5)
    tags[:, 0] = tags[:, 3] = 1
    plain = iterative_inference(tiny_model, *batch, steps=5, step_size=50.0)
    tagged = iterative_inference(tiny_model, *batch, steps=5, step_size=50.0, tags=tags)
    assert (tagged.v3[:, 3] > plain.v3[:, 3]).all()
    assert (tagged.v3[:, 1] < plain.v3[:, 1]).all()


def test_steps_lower_the_energy_inside_inference_mode_as_in_a_validation_loop(tiny_model):
    images = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        u1, v1 = tiny_model.encode(images)
        result = iterative_inference(tiny_model, u1, v1, images, steps=3, step_size=20.0)
    assert (result.energy[-1] < result.energy[0]).all()


def test_zero_steps_returns_the_initial_prediction(tiny_model, batch):
    u1, v1, images = batch
    result = iterative_inference(tiny_model, u1, v1, images, steps=0, step_size=1.0)
    with torch.no_grad():
        expected = tiny_model.decode(u1, v1, images.shape[-2:])
    assert torch.equal(result.u3, expected.u3)
    assert torch.equal(result.v3, expected.v3)
    assert torch.equal(result.u1, u1)
    assert torch.equal(result.v1, v1)
    assert result.energy.shape == (1, 3)


def test_record_steps_keeps_u3_after_each_requested_step(tiny_model, batch):
    result = iterative_inference(
        tiny_model, *batch, steps=4, step_size=20.0, record_steps=(0, 2, 4)
    )
    assert sorted(result.u3_at) == [0, 2, 4]
    assert torch.equal(result.u3_at[4], result.u3)
    assert not torch.equal(result.u3_at[0], result.u3_at[2])


def test_non_finite_energy_stops_only_affected_samples_with_a_warning(diverging_features):
    model, u1, v1, images = diverging_features
    with pytest.warns(RuntimeWarning, match="1 of 3 samples"):
        result = iterative_inference(model, u1, v1, images, steps=6, step_size=1e4)
    assert result.stopped.tolist() == [False, True, False]
    assert torch.isfinite(result.energy).all()
    assert torch.isfinite(result.u3).all()
    with torch.no_grad():
        torch.testing.assert_close(result.z3, model.reconstruct(result.u3))
    stopped_at = result.energy[:, 1]
    assert stopped_at[-1] == stopped_at[-2]
    assert stopped_at[1] > stopped_at[0]
    others = iterative_inference(
        model, u1[[0, 2]], v1[[0, 2]], images[[0, 2]], steps=6, step_size=1e4
    )
    torch.testing.assert_close(result.u3[[0, 2]], others.u3)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_non_finite_energy_is_reported_in_stopped_without_a_warning_when_asked(
    diverging_features,
):
    model, u1, v1, images = diverging_features
    result = iterative_inference(
        model, u1, v1, images, steps=6, step_size=1e4, warn_non_finite=False
    )
    assert result.stopped.tolist() == [False, True, False]


@pytest.mark.parametrize(
    "control",
    [StepControl(), StepControl(monotone=True, max_change=1.0, stall_tolerance=1e-3)],
    ids=["free", "controlled"],
)
@pytest.mark.parametrize("method", ["fast", "autograd"])
def test_no_step_reads_a_value_back_to_the_host(tiny_model, batch, method, control):
    tags = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 1, 0]]).float()
    kwargs = {"step_size": 50.0, "tags": tags, "record_steps": (0, 5)}
    kwargs["options"] = StepOptions(method=method, control=control)
    for steps, warn, expected in ((0, False, 0), (10, True, 1), (10, False, 0)):
        with HostReads() as reads:
            result = iterative_inference(
                tiny_model, *batch, steps=steps, warn_non_finite=warn, **kwargs
            )
        assert reads.count == expected, f"{steps} steps, warn={warn}: {reads.count} host reads"
    assert (result.energy[-1] <= result.energy[0]).all()


def test_predict_gives_the_argmax_of_the_refined_logits_at_the_image_size(tiny_model, batch):
    _, _, images = batch
    calls = []
    tiny_model.backbone.register_forward_hook(lambda *args: calls.append(1))
    prediction = predict(tiny_model, images, steps=4, step_size=20.0, record_steps=(0, 2))
    assert len(calls) == 1
    with torch.no_grad():
        u1, v1 = tiny_model.encode(images)
    result = iterative_inference(tiny_model, u1, v1, images, steps=4, step_size=20.0)
    for t, u3 in ((0, tiny_model.segment(u1, v1)), (4, result.u3)):
        expected = upsample_logits(u3.detach(), images.shape[-2:]).argmax(dim=1)
        assert torch.equal(prediction.labelmap(t), expected)
    assert torch.equal(prediction.labelmap(), prediction.labelmap(4))
    assert prediction.labelmap(2).shape == images[:, 0].shape
    torch.testing.assert_close(prediction.tag_scores(), result.v3.sigmoid())
    given = predict(tiny_model, images, steps=4, step_size=20.0, features=(u1, v1))
    assert len(calls) == 2
    assert torch.equal(given.labelmap(), prediction.labelmap())


def test_predicted_labelmaps_keep_to_the_allowed_classes(tiny_model, batch):
    _, _, images = batch
    prediction = predict(tiny_model, images, steps=2, step_size=20.0)
    allowed = torch.zeros(3, 5)
    allowed[:, 0] = allowed[0, 3] = allowed[1, 1] = allowed[2, 4] = 1
    labelmap = prediction.labelmap(allowed=allowed)
    for sample, classes in enumerate(([0, 3], [0, 1], [0, 4])):
        assert set(labelmap[sample].unique().tolist()) <= set(classes)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fast", "autograd"])
def test_compiled_steps_equal_eager_steps_and_compile_once_per_setting(tiny_model, batch, method):
    tags = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 1, 0]]).float()
    control = StepControl(monotone=True, max_change=2.0, stall_tolerance=1e-4)
    kwargs = {"steps": 6, "step_size": 50.0, "tags": tags, "record_steps": (0, 3, 6)}
    options = StepOptions(method=method, control=control)
    eager = iterative_inference(tiny_model, *batch, options=options, **kwargs)
    before = counters["stats"]["unique_graphs"]
    compiled_options = StepOptions(method=method, control=control, compile_steps=True)
    compiled = iterative_inference(tiny_model, *batch, options=compiled_options, **kwargs)
    graphs = counters["stats"]["unique_graphs"]
    assert graphs > before, "no step was compiled"
    assert not torch.equal(eager.u3, eager.u3_at[0]), "the steps must change the labelmap"
    assert_fast_matches_autograd(compiled, eager, names=("u1", "v1", "u3", "v3", "z3", "energy"))
    assert torch.equal(compiled.stopped, eager.stopped)
    u1, v1, images = (t.flip(0) for t in batch)  # other samples, the same shapes and settings
    again = iterative_inference(tiny_model, u1, v1, images, options=compiled_options, **kwargs)
    assert counters["stats"]["unique_graphs"] == graphs, "a call of known shapes recompiled"
    reference = iterative_inference(tiny_model, u1, v1, images, **kwargs)
    assert_fast_matches_autograd(again, reference, names=("u3", "v3", "energy"))

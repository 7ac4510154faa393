"""The bullets under a section's targets that say where the time and memory go."""

from __future__ import annotations

from formatting import bullets, ms, ratio
from summary import COMPILED, Summary, known


def why_steps(s: Summary) -> list[str]:
    """Why a step costs what it does and what 30 of them add (batch 8)."""
    fast, autograd = s.step(8, "fast"), s.step(8, "autograd")
    plain, encode = s.plain(8), s.encode(8)
    return [
        f"Per step: a fast step is subnet-2's forward and backward at the feature resolution "
        f"plus the C-channel operators ({ms(fast)} ms per image); an autograd step also runs "
        f"subnet-1 (a 3×3 conv from the 2048 channels of u1, plus v1's share) forward and "
        f"backward to u1 and v1 "
        f"({ms(autograd)} ms).",
        f"tts=30: of the plain prediction's {ms(plain)} ms per image, the backbone takes "
        f"{ms(encode)} ms; 30 fast steps add {ms(s.dis(8, 'fast/30') - plain)} ms "
        f"({(s.dis(8, 'fast/30') / plain - 1) * 100:.0f}%), 30 autograd steps "
        f"{ms(s.dis(8, 'autograd/30') - plain)} ms.",
    ]


def why_graphs(s: Summary) -> str:
    """What CUDA graphs save on 30 steps (batch 8)."""
    return (
        f"CUDA graphs: 30 fast steps take {ms(s.steps(8, 'fast'))} ms per batch of 8 replayed "
        f"from a graph and {ms(s.steps(8, 'fast-eager'))} ms launched eagerly from Python; 30 "
        f"autograd steps {ms(s.steps(8, 'autograd'))} and "
        f"{ms(s.steps(8, 'autograd-eager'))} ms."
    )


def why_compiled(s: Summary) -> str:
    """What ``torch.compile`` of the steps changes on 30 fast steps (batch 8)."""
    unit = "batch of 8" if s.cuda else "image"
    default, compiled = s.step(8, "fast", not s.cuda), s.step(8, f"fast{COMPILED}", not s.cuda)
    return (
        f"Compiled steps (`inference.compile_steps`): a fast step takes {ms(compiled)} ms per "
        f"{unit} compiled against {ms(default)} ms on the default path "
        f"({ratio(compiled / default)}); the compiled step fuses the element-wise work between "
        "the convolutions (softmax, losses, the non-finite guard, the state updates) into a few "
        "kernels."
    )


def why_deeplab(s: Summary) -> str:
    """Where DIS's and DeepLabV3's inference times go (batch 8)."""
    plain, encode, deeplab = s.plain(8), s.encode(8), s.deeplab(8)
    return (
        f"DeepLabV3: both run the same dilated ResNet-101 at output stride 8. DIS's backbone "
        f"takes {ms(encode)} ms per image and the rest of its plain prediction (three subnets, "
        f"upsampling) {ms(plain - encode)} ms; DeepLabV3 takes {ms(deeplab)} ms with its ASPP "
        "head (3×3 convs from 2048 channels at rates 12, 24 and 36)."
    )


def why_training(s: Summary) -> str:
    """What stage 3 and its ttr steps add to a training step."""
    stage1, plain = s.train("DIS stage 1"), s.train("DIS stage 3, ttr=0")
    return (
        f"Training: stage 3 with ttr=0 takes {ratio(plain / stage1)} a stage-1 step "
        f"(it also trains subnet-2 on every image); the 30 steps on the "
        f"{s.results['settings']['train_batch'] // 2} tag-only images add "
        f"{s.ttr_steps():.2f} s ({s.ttr_steps() / stage1 * 100:.1f}% of a stage-1 step; "
        "paired repetitions in one process), as they never run the backbone."
    )


def why_memory(s: Summary) -> str:
    """How the memory of the steps grows with their number (batch 8)."""
    growth = s.steps_peak(8, "autograd/30")[0] / s.steps_peak(8, "autograd/1")[0]
    return (
        f"Memory: the steps hold C-channel tensors only, so their peak does not grow with "
        f"the number of steps (autograd: {(growth - 1) * 100:+.1f}% from 1 to 30 steps)."
    )


def explanations(s: Summary) -> str:
    """The bullets under the targets that say why, those whose groups were measured."""
    lines = [*(known(why_steps, s) or [])]
    if s.cuda:
        lines.append(known(why_graphs, s))
    lines.append(known(why_compiled, s))
    lines += [known(why_deeplab, s), known(why_training, s), known(why_memory, s)]
    return bullets([line for line in lines if line is not None])

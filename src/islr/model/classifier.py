"""The recipe's sequence classifier: masked [B, T, 708] features -> [B, num_classes] logits."""

from __future__ import annotations

from typing import Any

import keras

from islr.landmarks import N_FEATURES, PAD_VALUE
from islr.model.batch_norm import BatchNormalization
from islr.model.conv_block import Conv1DBlock
from islr.model.frame_dense import FrameDense
from islr.model.late_dropout import LateDropout
from islr.model.pooling import MaskedGlobalAveragePooling1D
from islr.model.transformer_block import TransformerBlock

# The name of the last Dense, the classifier head: one output (kernel column, bias) per class.
HEAD_LAYER = "logits"


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(f"islr.model classifier: {message}")


def apply_classifier(
    features: Any,
    *,
    num_classes: int,
    dim: int,
    num_stacks: int,
    conv_blocks_per_stack: int,
    kernel_size: int,
    num_heads: int,
    expand_ratio: int,
    conv_drop_rate: float,
    attn_drop_rate: float,
    drop_path_rate: float,
    eca_kernel_size: int | None,
    top_dim_multiplier: int,
    late_dropout_rate: float,
    late_dropout_start_step: int,
    bn_momentum: float,
    norm: str,
    attn_scale: str,
) -> Any:
    """Stack the classifier layers on a symbolic ``[B, T, C]`` tensor padded with ``PAD_VALUE``.

    Returns the float32 ``[B, num_classes]`` logits tensor. This is the shared body of
    :func:`build_classifier` and ``build_sign_model``. Every argument is required: the values
    live in ``conf/model/*.yaml`` (``reference.yaml``: the recipe's model), except
    ``num_classes`` and ``late_dropout_start_step``, which the trainer derives from the data.

    Args:
        num_classes: number of output logits.
        dim: model width.
        num_stacks: number of [conv blocks + transformer] stacks.
        conv_blocks_per_stack: Conv1DBlocks per stack.
        kernel_size: causal depthwise kernel width.
        num_heads: attention heads (must divide ``dim``).
        expand_ratio: inner width multiplier of conv blocks and FFNs.
        conv_drop_rate: drop-path rate of each Conv1DBlock's branch.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: drop-path rate of both Transformer branches.
        eca_kernel_size: ECA kernel (``None``: adaptive).
        top_dim_multiplier: width of the top Dense is ``dim * top_dim_multiplier``.
        late_dropout_rate: rate of the dropout before the logits.
        late_dropout_start_step: training calls before that dropout starts.
        bn_momentum: momentum of every BatchNormalization.
        norm: Transformer normalisation, ``"batch"`` or ``"layer"``.
        attn_scale: ``"dim"`` (reference) or ``"head"`` attention scaling.
    """
    _check(int(num_classes) >= 1, f"num_classes must be >= 1, got {num_classes!r}")
    for name, value, low in (
        ("dim", dim, 1),
        ("num_heads", num_heads, 1),
        ("num_stacks", num_stacks, 0),
        ("conv_blocks_per_stack", conv_blocks_per_stack, 0),
        ("kernel_size", kernel_size, 1),
        ("expand_ratio", expand_ratio, 1),
        ("top_dim_multiplier", top_dim_multiplier, 1),
    ):
        _check(int(value) >= low, f"{name} must be an int >= {low}, got {value!r}")
    _check(int(dim) % int(num_heads) == 0, f"dim ({dim}) must divide by num_heads ({num_heads})")
    for name, rate in (
        ("conv_drop_rate", conv_drop_rate),
        ("attn_drop_rate", attn_drop_rate),
        ("drop_path_rate", drop_path_rate),
        ("late_dropout_rate", late_dropout_rate),
    ):
        _check(0.0 <= float(rate) < 1.0, f"{name} must be in [0, 1), got {rate!r}")
    _check(norm in ("batch", "layer"), f"norm must be 'batch' or 'layer', got {norm!r}")
    _check(attn_scale in ("dim", "head"), f"attn_scale must be 'dim' or 'head', got {attn_scale!r}")

    # Masking recomputes the padding mask from the pad value and zeroes padded steps. It runs
    # under the model's policy: the stem Dense computes in that dtype anyway.
    x = keras.layers.Masking(mask_value=PAD_VALUE, name="masking")(features)
    x = FrameDense(dim, use_bias=False, name="stem_dense")(x)
    x = BatchNormalization(momentum=bn_momentum, name="stem_bn")(x)
    for s in range(int(num_stacks)):
        for c in range(int(conv_blocks_per_stack)):
            x = Conv1DBlock(
                dim,
                kernel_size=kernel_size,
                expand_ratio=expand_ratio,
                drop_path_rate=conv_drop_rate,
                eca_kernel_size=eca_kernel_size,
                bn_momentum=bn_momentum,
                name=f"stack{s}_conv{c}",
            )(x)
        x = TransformerBlock(
            num_heads=num_heads,
            expand_ratio=expand_ratio,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            bn_momentum=bn_momentum,
            norm=norm,
            attn_scale=attn_scale,
            name=f"stack{s}_transformer",
        )(x)
    # The recipe applies Dense(dim * top_dim_multiplier) per frame, then pools. That Dense is
    # linear, so the mean over real frames commutes with it: pooling first gives the same
    # logits for any non-empty sequence at 1/T of the cost (~4% of the network's FLOPs).
    x = MaskedGlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dense(dim * int(top_dim_multiplier), name="top_dense")(x)
    x = LateDropout(late_dropout_rate, start_step=late_dropout_start_step, name="late_dropout")(x)
    # Logits stay float32 under a mixed-precision policy (stable softmax / loss).
    return keras.layers.Dense(num_classes, dtype="float32", name=HEAD_LAYER)(x)


def build_classifier(
    *, name: str, input_dim: int = N_FEATURES, **classifier_kwargs: Any
) -> keras.Model:
    """Build the reference Conv1D/Transformer classifier on ``[B, T, input_dim]`` features.

    Padded frames (at the end of time) hold ``PAD_VALUE`` (-100) in every value; they are masked
    and never influence real frames or the logits. Layout: Masking -> stem ``Dense(dim, no
    bias)`` + BN -> ``num_stacks`` x [``conv_blocks_per_stack`` x Conv1DBlock + 1 x
    TransformerBlock] -> masked average pooling -> ``Dense(dim * top_dim_multiplier)`` (the
    recipe's order is Dense then pooling; the Dense is linear, so the two are equal) ->
    LateDropout -> ``Dense(num_classes)`` float32 logits. No positional encoding.

    Args:
        name: model name.
        input_dim: feature channels (708: the features of :class:`islr.features.LandmarkFeatures`).
        **classifier_kwargs: the sizes and rates of :func:`apply_classifier` (``num_classes``,
            ``dim``, ``num_stacks``, ...), all required.

    Returns:
        A functional ``keras.Model`` mapping ``[B, T, input_dim]`` to ``[B, num_classes]``.
    """
    _check(int(input_dim) >= 1, f"input_dim must be >= 1, got {input_dim!r}")
    inputs = keras.Input(shape=(None, int(input_dim)), name="features")
    logits = apply_classifier(inputs, **classifier_kwargs)
    return keras.Model(inputs, logits, name=name)

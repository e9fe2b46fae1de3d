"""Real models' attention shapes, by name, and what one GPU of a tensor-parallel group holds.

Each entry is read from the model's published config (config.json: num_attention_heads,
num_key_value_heads, head_dim); the source is in the comment beside it. Tensor parallelism splits
the query heads evenly across `tp` GPUs; the key/value heads too while there are at least `tp` of
them, and beyond that each GPU keeps one KV head, replicated, as vLLM and SGLang do.
"""
from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    heads: int  # query heads
    kv_heads: int
    head_dim: int


# num_attention_heads, num_key_value_heads, head_dim of each model's config.json. Qwen3 and Gemma-2
# set head_dim explicitly: it is not hidden_size / num_attention_heads there. Attention sinks,
# sliding windows and soft-capping (Gemma-2, gpt-oss) are not modelled: these are the shapes.
MODELS = {
    "llama-3.1-8b": Shape(32, 8, 128),  # meta-llama/Llama-3.1-8B; gpt-fast model.py transformer_configs
    "llama-3.1-70b": Shape(64, 8, 128),  # meta-llama/Llama-3.1-70B; gpt-fast transformer_configs
    "llama-3.1-405b": Shape(128, 8, 128),  # meta-llama/Llama-3.1-405B; gpt-fast transformer_configs
    "mistral-7b": Shape(32, 8, 128),  # mistralai/Mistral-7B-v0.1; gpt-fast transformer_configs "Mistral-7B"
    "qwen3-8b": Shape(32, 8, 128),  # Qwen/Qwen3-8B config.json
    "qwen3-32b": Shape(64, 8, 128),  # Qwen/Qwen3-32B config.json (hidden 5120: head_dim is set, 128)
    "qwen3-30b-a3b": Shape(32, 4, 128),  # Qwen/Qwen3-30B-A3B config.json (MoE, 128 experts)
    "qwen3-235b-a22b": Shape(64, 4, 128),  # Qwen/Qwen3-235B-A22B config.json (MoE, 128 experts)
    "gemma-2-9b": Shape(16, 8, 256),  # google/gemma-2-9b: transformers Gemma2Config as maxtext lists it
    "gemma-2-27b": Shape(32, 16, 128),  # google/gemma-2-27b: the same (its softmax scale is 144^-0.5)
    "gpt-oss-20b": Shape(64, 8, 64),  # openai/gpt-oss-20b config.json
    "gpt-oss-120b": Shape(64, 8, 64),  # openai/gpt-oss-120b: gpt_oss/torch/model.py ModelConfig
}


def per_gpu(model: str, tp: int) -> Shape:
    """One GPU's share of `model`'s attention at tensor-parallel degree `tp`; ValueError if `tp`
    cannot split it."""
    full = MODELS[model]
    if full.heads % tp:
        raise ValueError(f"tp={tp} does not divide {model}'s {full.heads} query heads; choose a tp that does")
    if tp <= full.kv_heads and full.kv_heads % tp or tp > full.kv_heads and tp % full.kv_heads:
        raise ValueError(f"tp={tp} cannot split {model}'s {full.kv_heads} KV heads (nor replicate them evenly); "
                         "choose a tp that divides them or that they divide")
    return Shape(full.heads // tp, max(full.kv_heads // tp, 1), full.head_dim)


def heads_of(model: str | None, tp: int, heads: int | None, kv_heads: int | None,
             head_dim: int | None) -> Shape:
    """A point's (heads, kv_heads, head_dim): one GPU's share of `model` at `tp`, or as given (kv
    heads as heads where not given); ValueError naming what is missing, given twice, or wrong."""
    if model:
        if (heads, kv_heads, head_dim) != (None, None, None):
            raise ValueError(f"model {model} sets heads, kv_heads and head_dim; give either the model or them")
        return per_gpu(model, tp)
    missing = [name for name, value in (("heads", heads), ("head_dim", head_dim)) if value is None]
    if missing:
        raise ValueError(f"{' and '.join(missing)} missing; give them, or a model ({', '.join(MODELS)})")
    kv_heads = kv_heads or heads
    if heads % kv_heads:
        raise ValueError(f"heads={heads} is not a multiple of kv_heads={kv_heads}; grouped-query attention "
                         "needs it to be")
    return Shape(heads, kv_heads, head_dim)

#!/usr/bin/python3
"""Writes tests/fixtures/safetensors/: one small random GPT-2 in Hugging Face's layout and llm.c's.

Files: model.safetensors (F32, names as the `gpt2` repository: no `transformer.` prefix; written the way
nograd's exporter must write it, so the C++ test compares bytes), model_f16.safetensors (F16, with the
`transformer.` prefix, a tied lm_head.weight, the old attn.bias/attn.masked_bias buffers, tensors stored out
of name order and a header with spaces), model_bf16.safetensors (BF16, round to nearest even),
config.json (Hugging Face's GPT2Config fields), model.bin (the same F32 weights as an llm.c checkpoint:
padded vocabulary, Conv1D weights transposed to (out, in)), expected.json (tokens and the loss of each file
computed here in float64 with Hugging Face's semantics, y = x @ W + b, straight from the (in, out) arrays).

The safetensors writer is implemented here with numpy + json (no safetensors or torch package), so it is
an independent twin of the C++ one. The script checks itself: a transposition bug in the .bin twin moves
the loss, and the F16 file holds subnormal halves.

Run: /usr/bin/python3 tools/make_safetensors_fixture.py   (Debian's python3-numpy; deterministic)
"""
import json
import math
import os
import struct

import numpy as np

SEED = 20240905
V, MAXT, L, NH, C = 96, 16, 2, 4, 16
VP = (V + 127) // 128 * 128
B, T = 2, 12
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "safetensors")
CHECKPOINT_MAGIC, FP32_VERSION = 20240326, 3
# Larger than GPT-2's 0.02 so that attention is far from uniform and a transposed weight moves the loss.
WEIGHT_STD = 0.15


def make_weights(rng):
    """Hugging Face GPT2Model's state dict (no prefix), float32, Conv1D weights as (in, out)."""
    w = {"wte.weight": rng.normal(0, WEIGHT_STD, (V, C)), "wpe.weight": rng.normal(0, WEIGHT_STD, (MAXT, C))}
    for layer in range(L):
        p = f"h.{layer}."
        w[p + "ln_1.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "ln_1.bias"] = rng.normal(0, 0.05, C)
        w[p + "attn.c_attn.weight"] = rng.normal(0, WEIGHT_STD, (C, 3 * C))
        w[p + "attn.c_attn.bias"] = rng.normal(0, 0.05, 3 * C)
        w[p + "attn.c_proj.weight"] = rng.normal(0, WEIGHT_STD, (C, C))
        w[p + "attn.c_proj.bias"] = rng.normal(0, 0.05, C)
        w[p + "ln_2.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "ln_2.bias"] = rng.normal(0, 0.05, C)
        w[p + "mlp.c_fc.weight"] = rng.normal(0, WEIGHT_STD, (C, 4 * C))
        w[p + "mlp.c_fc.bias"] = rng.normal(0, 0.05, 4 * C)
        w[p + "mlp.c_proj.weight"] = rng.normal(0, WEIGHT_STD, (4 * C, C))
        w[p + "mlp.c_proj.bias"] = rng.normal(0, 0.05, C)
    w["ln_f.weight"] = 1 + rng.normal(0, 0.1, C)
    w["ln_f.bias"] = rng.normal(0, 0.05, C)
    # A few values far below half's smallest normal (6.1e-5), so the F16 file surely holds subnormals.
    w["wte.weight"][0, :6] = [3e-5, -1e-6, 6e-8, 2.5e-7, -4e-5, 1e-7]
    return {k: v.astype(np.float32) for k, v in w.items()}


def to_bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even (no NaNs here)."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode(array, dtype):
    """Little-endian bytes of `array` stored as dtype "F32", "F16" or "BF16"."""
    if dtype == "F32":
        return array.astype("<f4").tobytes()
    if dtype == "F16":
        return array.astype("<f2").tobytes()
    return to_bf16_bits(array).astype("<u2").tobytes()


def write_safetensors(path, entries, compact=True):
    """entries: list of (name, dtype, shape, bytes) in data order. Header keys sorted; padded with spaces
    so the data starts at a multiple of 8, as Hugging Face's library does."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":") if compact else None).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in entries:
            f.write(data)


def llmc_params(w):
    """The 16 llm.c tensors in file order, Linear weights (out, in), stacked over layers."""
    def stack(name, transpose=False):
        return np.stack([w[f"h.{l}.{name}"].T if transpose else w[f"h.{l}.{name}"] for l in range(L)])
    wte = np.zeros((VP, C), np.float32)
    wte[:V] = w["wte.weight"]
    return [wte, w["wpe.weight"], stack("ln_1.weight"), stack("ln_1.bias"),
            stack("attn.c_attn.weight", True), stack("attn.c_attn.bias"),
            stack("attn.c_proj.weight", True), stack("attn.c_proj.bias"),
            stack("ln_2.weight"), stack("ln_2.bias"), stack("mlp.c_fc.weight", True), stack("mlp.c_fc.bias"),
            stack("mlp.c_proj.weight", True), stack("mlp.c_proj.bias"), w["ln_f.weight"], w["ln_f.bias"]]


def write_llmc_checkpoint(path, w):
    header = np.zeros(256, np.int32)
    header[:8] = [CHECKPOINT_MAGIC, FP32_VERSION, MAXT, V, L, NH, C, VP]
    params = np.concatenate([t.astype(np.float32).ravel() for t in llmc_params(w)])
    assert params.size == VP * C + MAXT * C + L * (12 * C * C + 13 * C) + 2 * C
    with open(path, "wb") as f:
        f.write(header.astype("<i4").tobytes())
        f.write(params.astype("<f4").tobytes())


def layernorm(x, weight, bias):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * weight + bias


def gelu_tanh(x):  # Hugging Face's "gelu_new"
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def attention(qkv, n):
    hs = C // NH
    q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(n, NH, hs).transpose(1, 0, 2) for i in range(3))
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(hs)
    scores = np.where(np.tril(np.ones((n, n), bool)), scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return (probs @ v).transpose(1, 0, 2).reshape(n, C)


def hf_loss(w, tokens):
    """Mean cross-entropy of next-token prediction, float64, Hugging Face's Conv1D: y = x @ W + b."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    total = 0.0
    for seq in tokens:
        inputs, targets = seq[:-1], seq[1:]
        x = w["wte.weight"][inputs] + w["wpe.weight"][:T]
        for l in range(L):
            p = lambda name: w[f"h.{l}.{name}"]
            h = layernorm(x, p("ln_1.weight"), p("ln_1.bias"))
            y = attention(h @ p("attn.c_attn.weight") + p("attn.c_attn.bias"), T)
            x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
            h = layernorm(x, p("ln_2.weight"), p("ln_2.bias"))
            x = x + gelu_tanh(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias")) @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
        logits = layernorm(x, w["ln_f.weight"], w["ln_f.bias"]) @ w["wte.weight"].T
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total += -logp[np.arange(T), targets].mean()
    return total / len(tokens)


def hf_entries(w, dtype, prefix=""):
    return [(prefix + name, dtype, w[name].shape, encode(w[name], dtype)) for name in sorted(w)]


def write_f16_variant(path, w):
    """transformers' older GPT2LMHeadModel files: prefixed names, tied lm_head, attention-mask buffers."""
    entries = hf_entries(w, "F16", "transformer.")
    entries.append(("lm_head.weight", "F16", (V, C), encode(w["wte.weight"], "F16")))
    mask = np.tril(np.ones((MAXT, MAXT), np.float32)).reshape(1, 1, MAXT, MAXT)
    for l in range(L):
        entries.append((f"transformer.h.{l}.attn.bias", "F32", mask.shape, encode(mask, "F32")))
        entries.append((f"transformer.h.{l}.attn.masked_bias", "F32", (), encode(np.float32(-1e4), "F32")))
    write_safetensors(path, entries[::-1], compact=False)  # data in reverse name order: order is free


def hf_config():
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "layer_norm_epsilon": 1e-05,
            "model_type": "gpt2", "n_ctx": MAXT, "n_embd": C, "n_head": NH, "n_layer": L, "n_positions": MAXT,
            "vocab_size": V}


def self_checks(w, tokens, losses):
    # A loader that forgets to transpose the square (C, C) attention projection must see another loss.
    wrong = dict(w)
    for l in range(L):
        wrong[f"h.{l}.attn.c_proj.weight"] = w[f"h.{l}.attn.c_proj.weight"].T.copy()
    moved = abs(hf_loss(wrong, tokens) - losses["F32"])
    assert moved > 1e-3, f"transposing c_proj moves the loss by only {moved}"
    halves = w["wte.weight"].astype(np.float16)
    subnormal = np.count_nonzero((halves != 0) & (np.abs(halves) < np.float16(6.104e-5)))
    assert subnormal >= 5, subnormal
    assert abs(losses["F16"] - losses["F32"]) < 1e-2 and abs(losses["BF16"] - losses["F32"]) < 5e-2, losses
    return moved, subnormal


def main():
    rng = np.random.default_rng(SEED)
    w = make_weights(rng)
    tokens = rng.integers(0, V, (B, T + 1))
    decoded = {"F32": w, "F16": {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()},
               "BF16": {k: bf16_bits_to_f32(to_bf16_bits(v)).reshape(v.shape) for k, v in w.items()}}
    losses = {dtype: hf_loss(weights, tokens) for dtype, weights in decoded.items()}
    moved, subnormal = self_checks(w, tokens, losses)
    os.makedirs(OUT_DIR, exist_ok=True)
    write_safetensors(os.path.join(OUT_DIR, "model.safetensors"), hf_entries(w, "F32"))
    write_safetensors(os.path.join(OUT_DIR, "model_bf16.safetensors"), hf_entries(w, "BF16"))
    write_f16_variant(os.path.join(OUT_DIR, "model_f16.safetensors"), w)
    write_llmc_checkpoint(os.path.join(OUT_DIR, "model.bin"), w)
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2, sort_keys=True)
        f.write("\n")
    expected = {"B": B, "T": T, "tokens": tokens.ravel().tolist(), "loss_f32": losses["F32"],
                "loss_f16": losses["F16"], "loss_bf16": losses["BF16"]}
    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"losses {losses}; transposed c_proj moves the loss by {moved:.4f}; {subnormal} subnormal halves")


if __name__ == "__main__":
    main()

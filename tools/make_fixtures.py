#!/usr/bin/python3
"""Writes the PyTorch reference fixture tests/fixtures/gpt2_tiny/ for nograd's C++ tests.

A tiny GPT-2 is written here from the architecture (no transformers library): checkpoint (fp32 and bf16),
a token shard, expected logits, loss, gradients and one AdamW step. All reference values are computed in
float64 from the exact float32 parameters stored in model.bin, then stored as float32. The C++ tests are
not run from here; the script only checks itself (parameter count, finite differences, torch.nn and
torch.optim cross-checks, how far typical forward-pass bugs move the expected values, file read-back).

Run: /usr/bin/python3 tools/make_fixtures.py   (Debian's python3-torch and python3-numpy; deterministic)
"""
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240326
CONFIG = dict(max_seq_len=16, vocab_size=96, padded_vocab_size=128, num_layers=2, num_heads=4, channels=32)
B, T = 2, 8  # T < max_seq_len on purpose: only the first T rows of wpe are used
ADAMW = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1)
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "gpt2_tiny")

MODEL_MAGIC, TOKENS_MAGIC = 20240326, 20240520
FP32_VERSION, BF16_VERSION, TOKENS_VERSION = 3, 5, 1
HEADER_INTS = 256
LN_EPS = 1e-5
# GPT-2's init shape with sigma 10x GPT-2's 0.02: at 0.02 the attention is nearly uniform and a missing
# 1/sqrt(hs) scale moves the logits by only 2.7e-4, exact-vs-tanh GELU by 4e-7, both too close to the C++
# tests' 1e-4 tolerance. At 0.2 every bug in MUTATIONS moves the logits or loss by >= 5e-4 (checked below).
INIT_STD = 0.2
TEST_TOLERANCE = 1e-4


def param_shapes(cfg):
    """The 16 tensors of an llm.c checkpoint, in file order, Linear weights as (out, in)."""
    Vp, maxT, L, C = cfg["padded_vocab_size"], cfg["max_seq_len"], cfg["num_layers"], cfg["channels"]
    return [
        ("wte", (Vp, C)), ("wpe", (maxT, C)),
        ("ln1w", (L, C)), ("ln1b", (L, C)),
        ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C)),
        ("attprojw", (L, C, C)), ("attprojb", (L, C)),
        ("ln2w", (L, C)), ("ln2b", (L, C)),
        ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)),
        ("fcprojw", (L, C, 4 * C)), ("fcprojb", (L, C)),
        ("lnfw", (C,)), ("lnfb", (C,)),
    ]


def param_count_formula(cfg):
    """FORMATS.md: P = Vp*C + maxT*C + L*(12C^2 + 13C) + 2C."""
    Vp, maxT, L, C = cfg["padded_vocab_size"], cfg["max_seq_len"], cfg["num_layers"], cfg["channels"]
    return Vp * C + maxT * C + L * (12 * C * C + 13 * C) + 2 * C


def init_params(cfg, gen):
    """GPT-2-shaped init (weights N(0, INIT_STD), residual projections N(0, INIT_STD/sqrt(2L))), except that
    LayerNorm weights are 1 + 0.1*N and every bias and LayerNorm bias is 0.05*N, so tests see every tensor.
    Drawn in float64, rounded to float32 (what model.bin holds) and widened back: every reference value
    below is a function of exactly the stored float32 numbers."""
    L, V = cfg["num_layers"], cfg["vocab_size"]
    residual_std = INIT_STD / math.sqrt(2 * L)
    params = {}
    for name, shape in param_shapes(cfg):
        noise = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name in ("ln1w", "ln2w", "lnfw"):
            value = 1.0 + 0.1 * noise
        elif name.endswith("b"):
            value = 0.05 * noise
        elif name in ("attprojw", "fcprojw"):
            value = residual_std * noise
        else:
            value = INIT_STD * noise
        params[name] = value
    params["wte"][V:] = 0.0  # padded vocabulary rows are zero
    return {k: v.to(torch.float32).to(torch.float64) for k, v in params.items()}


# ---------------------------------------------------------------------------------------------- model

# Switches that turn the reference into a typical buggy implementation (used only by the sensitivity check).
CORRECT = dict(attn_scale=True, causal=True, gelu="tanh", heads="contiguous", qkv_order="qkv",
               ln_variance="biased", ln_eps=LN_EPS, position_embedding=True, softmax_padded=False)


def layer_norm(x, w, b, knobs):
    """(x - mean) / sqrt(var + eps) * w + b over the last axis, var the biased (1/C) variance."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=knobs["ln_variance"] == "unbiased")
    return (x - mean) / torch.sqrt(var + knobs["ln_eps"]) * w + b


def gelu(x, knobs):
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if knobs["gelu"] == "exact":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def split_heads(x, NH, knobs):
    """(B, T, C) -> (B, NH, T, hs); head h owns channels h*hs .. (h+1)*hs-1."""
    Bx, Tx, C = x.shape
    hs = C // NH
    if knobs["heads"] == "interleaved":
        return x.view(Bx, Tx, hs, NH).permute(0, 3, 1, 2)
    return x.view(Bx, Tx, NH, hs).permute(0, 2, 1, 3)


def attention(qkv, NH, knobs):
    """Causal multi-head attention. qkv: (B, T, 3C), channels Q then K then V. Returns (B, T, C)."""
    Bx, Tx, C3 = qkv.shape
    C = C3 // 3
    q, k, v = qkv.split(C, dim=-1)
    if knobs["qkv_order"] == "kqv":
        q, k = k, q
    q, k, v = (split_heads(t, NH, knobs) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2)  # (B, NH, T, T)
    if knobs["attn_scale"]:
        scores = scores / math.sqrt(C // NH)
    if knobs["causal"]:
        future = torch.triu(torch.ones(Tx, Tx, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v  # (B, NH, T, hs)
    return out.permute(0, 2, 1, 3).reshape(Bx, Tx, C)


def block(x, p, l, NH, knobs):
    """One pre-LN transformer block of layer l."""
    h = layer_norm(x, p["ln1w"][l], p["ln1b"][l], knobs)
    qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
    x = x + attention(qkv, NH, knobs) @ p["attprojw"][l].T + p["attprojb"][l]
    h = layer_norm(x, p["ln2w"][l], p["ln2b"][l], knobs)
    h = gelu(h @ p["fcw"][l].T + p["fcb"][l], knobs)
    return x + h @ p["fcprojw"][l].T + p["fcprojb"][l]


def forward(p, inputs, targets, cfg, knobs=CORRECT):
    """Returns (logits over the real vocabulary (B, T, V), mean cross-entropy over all B*T positions)."""
    V, L, NH = cfg["vocab_size"], cfg["num_layers"], cfg["num_heads"]
    Tx = inputs.shape[1]
    x = p["wte"][inputs]
    if knobs["position_embedding"]:
        x = x + p["wpe"][:Tx]
    for l in range(L):
        x = block(x, p, l, NH, knobs)
    x = layer_norm(x, p["lnfw"], p["lnfb"], knobs)
    all_logits = x @ p["wte"].T  # (B, T, Vp): tied LM head
    logits = all_logits[..., :V]  # padded columns never enter the softmax
    softmax_input = all_logits if knobs["softmax_padded"] else logits
    log_probs = torch.log_softmax(softmax_input, dim=-1)
    loss = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()
    return logits, loss


# ------------------------------------------------------------------------------- gradients, optimizer

def loss_and_grads(params, inputs, targets, cfg):
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits, loss = forward(leaves, inputs, targets, cfg)
    loss.backward()
    grads = {k: v.grad.detach() for k, v in leaves.items()}
    zero_key_bias_grad(grads, cfg)
    return logits.detach(), loss.item(), grads


def zero_key_bias_grad(grads, cfg):
    """The key bias (qkvb[:, C:2C]) has an exactly zero gradient: it adds q.b to every score of a query
    row, and softmax ignores a constant shift. Autograd returns float64 roundoff there (~1e-17); store
    the exact 0 so AdamW's g/(|g|+eps) sees no noise in the expected values."""
    C = cfg["channels"]
    key_bias_grad = grads["qkvb"][:, C:2 * C]
    assert key_bias_grad.abs().max() < 1e-14, key_bias_grad.abs().max()
    key_bias_grad.zero_()


def adamw_step(theta, grad, hp, step=1):
    """llm.c's CPU AdamW (decoupled weight decay on every tensor, bias-corrected moments from zero):
    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; m^ = m/(1-b1^t); v^ = v/(1-b2^t);
    theta <- theta - lr (m^ / (sqrt(v^) + eps) + wd theta)."""
    m = (1 - hp["beta1"]) * grad
    v = (1 - hp["beta2"]) * grad * grad
    m_hat = m / (1 - hp["beta1"] ** step)
    v_hat = v / (1 - hp["beta2"] ** step)
    return theta - hp["lr"] * (m_hat / (torch.sqrt(v_hat) + hp["eps"]) + hp["weight_decay"] * theta)


def flatten(tensors, cfg):
    return torch.cat([tensors[name].reshape(-1) for name, _ in param_shapes(cfg)])


def unflatten(flat, cfg):
    out, offset = {}, 0
    for name, shape in param_shapes(cfg):
        n = math.prod(shape)
        out[name] = flat[offset:offset + n].view(shape)
        offset += n
    return out


def bf16_round_nearest_even(values_f32):
    """float32 -> bf16 bit patterns (uint16), round to nearest, ties to even (what torch's
    .to(torch.bfloat16) does, and what llm.c's Python exporter gets). No NaNs occur here."""
    bits = values_f32.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def bf16_widen(bits_u16):
    return (bits_u16.astype(np.uint32) << 16).view("<f4")


# ------------------------------------------------------------------------------------------------ files

def header(values):
    ints = list(values) + [0] * (HEADER_INTS - len(values))
    return struct.pack("<%di" % HEADER_INTS, *ints)


def model_header(cfg, version):
    return header([MODEL_MAGIC, version, cfg["max_seq_len"], cfg["vocab_size"], cfg["num_layers"],
                   cfg["num_heads"], cfg["channels"], cfg["padded_vocab_size"]])


def write_bytes(name, data):
    with open(os.path.join(OUT_DIR, name), "wb") as f:
        f.write(data)


def f32_bytes(tensor):
    return tensor.detach().numpy().astype("<f4").tobytes()


def make_tokens(cfg, gen):
    """B*T+1 ids < V. Ids 0 and V-1 are forced in (first input, last target) to catch off-by-one slicing."""
    tokens = torch.randint(0, cfg["vocab_size"], (B * T + 1,), generator=gen)
    tokens[0], tokens[-1] = cfg["vocab_size"] - 1, 0
    return tokens


# ------------------------------------------------------------------------------------------ self-checks

def check_param_count(cfg, params):
    counted = sum(v.numel() for v in params.values())
    assert counted == param_count_formula(cfg), (counted, param_count_formula(cfg))
    gpt2_124m = dict(max_seq_len=1024, vocab_size=50257, padded_vocab_size=50304, num_layers=12, num_heads=12,
                     channels=768)
    assert param_count_formula(gpt2_124m) == 124475904
    assert sum(math.prod(s) for _, s in param_shapes(gpt2_124m)) == 124475904
    print(f"parameter count P = {counted} (formula agrees; GPT-2 124M table gives 124475904)")


def check_finite_differences(params, grads, inputs, targets, cfg, gen, per_tensor=3, h=1e-5):
    """Central differences in float64 on a few random coordinates of every tensor, plus one padded wte
    row (whose gradient must be exactly zero)."""
    worst = 0.0
    for name, shape in param_shapes(cfg):
        flat_size = math.prod(shape)
        picks = torch.randint(0, flat_size, (per_tensor,), generator=gen).tolist()
        if name == "wte":
            picks.append(cfg["vocab_size"] * cfg["channels"] + 5)  # inside the padded rows
        if name == "qkvb":
            picks.append(cfg["channels"] + 7)  # key bias of layer 0: zero gradient
        for i in picks:
            def loss_at(delta):
                moved = dict(params)
                moved[name] = params[name].clone()
                moved[name].view(-1)[i] += delta
                return forward(moved, inputs, targets, cfg)[1].item()
            numeric = (loss_at(h) - loss_at(-h)) / (2 * h)
            analytic = grads[name].reshape(-1)[i].item()
            error = abs(numeric - analytic) / max(1e-6, abs(analytic))
            assert error < 1e-6 or abs(numeric - analytic) < 1e-9, (name, i, numeric, analytic)
            worst = max(worst, error)
    pad = grads["wte"][cfg["vocab_size"]:]
    assert torch.count_nonzero(pad) == 0, "padded wte rows must have zero gradient"
    print(f"finite differences: {len(param_shapes(cfg))} tensors, worst relative error {worst:.2e}")


def builtin_forward(p, inputs, targets, cfg):
    """The same network from torch.nn modules (MultiheadAttention's in_proj is Q,K,V rows stacked with
    contiguous heads, scale 1/sqrt(head_dim)): an independent check of the hand-written forward."""
    C, NH, V, L = cfg["channels"], cfg["num_heads"], cfg["vocab_size"], cfg["num_layers"]
    Tx = inputs.shape[1]
    mask = torch.triu(torch.ones(Tx, Tx, dtype=torch.bool), diagonal=1)
    x = F.embedding(inputs, p["wte"]) + p["wpe"][:Tx]
    for l in range(L):
        mha = torch.nn.MultiheadAttention(C, NH, bias=True, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            mha.in_proj_weight.copy_(p["qkvw"][l]), mha.in_proj_bias.copy_(p["qkvb"][l])
            mha.out_proj.weight.copy_(p["attprojw"][l]), mha.out_proj.bias.copy_(p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], LN_EPS)
        x = x + mha(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], LN_EPS)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], LN_EPS)
    logits = F.linear(x, p["wte"][:V])
    return logits, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def check_against_builtins(params, logits, loss, inputs, targets, cfg):
    with torch.no_grad():
        ref_logits, ref_loss = builtin_forward(params, inputs, targets, cfg)
    diff = (ref_logits - logits).abs().max().item()
    assert diff < 1e-12 and abs(ref_loss.item() - loss) < 1e-12, (diff, ref_loss.item(), loss)
    print(f"torch.nn built-in forward agrees: max |logit diff| {diff:.1e}")


MUTATIONS = [("attn_scale", False), ("causal", False), ("gelu", "exact"), ("heads", "interleaved"),
             ("qkv_order", "kqv"), ("ln_variance", "unbiased"), ("ln_eps", 0.0), ("ln_eps", 1e-6),
             ("position_embedding", False), ("softmax_padded", True)]


def check_sensitivity(params, logits, loss, inputs, targets, cfg):
    """How far typical implementation bugs move the expected values; the C++ tests compare at 1e-4."""
    print("sensitivity (bug -> max |d logit|, |d loss|):")
    for key, value in MUTATIONS:
        with torch.no_grad():
            bad_logits, bad_loss = forward(params, inputs, targets, cfg, dict(CORRECT, **{key: value}))
        d_logits = (bad_logits - logits).abs().max().item()
        d_loss = abs(bad_loss.item() - loss)
        print(f"  {key}={value}: {d_logits:.2e}, {d_loss:.2e}")
        assert max(d_logits, d_loss) > 3 * TEST_TOLERANCE, f"fixture too weak to catch {key}={value}"


def report_float32_roundoff(params, logits, loss, flat_grads, inputs, targets, cfg):
    """The same computation in float32 (what the C++ code does): a guide for the tests' tolerances."""
    leaves = {k: v.to(torch.float32).requires_grad_(True) for k, v in params.items()}
    logits32, loss32 = forward(leaves, inputs, targets, cfg)
    loss32.backward()
    grads32 = {k: v.grad for k, v in leaves.items()}
    d_grads = (flatten(grads32, cfg).double() - flat_grads).abs().max().item()
    print(f"float32 torch vs reference: max |d logit| {(logits32.double() - logits).abs().max().item():.1e}, "
          f"|d loss| {abs(loss32.item() - loss):.1e}, max |d grad| {d_grads:.1e}")


def check_adamw_against_torch(flat, flat_grads, after_adamw):
    """torch.optim.AdamW decays theta by (1 - lr wd) before its Adam step: the same update as llm.c's."""
    theta = flat.clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([theta], lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]),
                                  eps=ADAMW["eps"], weight_decay=ADAMW["weight_decay"])
    theta.grad = flat_grads.clone()
    optimizer.step()
    diff = (theta.detach() - after_adamw).abs().max().item()
    assert diff < 1e-15, diff
    print(f"torch.optim.AdamW agrees: max |diff| {diff:.1e}")


def check_read_back(cfg, flat_f32, bf16_bits, tokens):
    def read_header(name):
        with open(os.path.join(OUT_DIR, name), "rb") as f:
            data = f.read()
        return struct.unpack("<%di" % HEADER_INTS, data[:4 * HEADER_INTS]), data[4 * HEADER_INTS:]
    P = param_count_formula(cfg)
    head, body = read_header("model.bin")
    assert head == struct.unpack("<%di" % HEADER_INTS, model_header(cfg, FP32_VERSION))
    assert head[:8] == (MODEL_MAGIC, FP32_VERSION, 16, 96, 2, 4, 32, 128) and not any(head[8:])
    assert len(body) == 4 * P and np.array_equal(np.frombuffer(body, "<f4"), flat_f32)
    head, body = read_header("model_bf16.bin")
    assert head[1] == BF16_VERSION and len(body) == 2 * P
    assert np.array_equal(np.frombuffer(body, "<u2"), bf16_bits)
    head, body = read_header("tokens.bin")
    assert head[:3] == (TOKENS_MAGIC, TOKENS_VERSION, B * T + 1) and len(body) == 2 * (B * T + 1)
    assert np.array_equal(np.frombuffer(body, "<u2"), tokens.numpy())
    print("files read back: headers, sizes and contents as intended")


# ------------------------------------------------------------------------------------------------- main

def file_summary():
    total = 0
    for name in sorted(os.listdir(OUT_DIR)):
        with open(os.path.join(OUT_DIR, name), "rb") as f:
            data = f.read()
        total += len(data)
        print(f"  {hashlib.sha256(data).hexdigest()[:16]}  {len(data):7d}  {name}")
    print(f"  total {total} bytes")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)
    cfg = CONFIG
    params = init_params(cfg, gen)
    tokens = make_tokens(cfg, gen)
    inputs, targets = tokens[:-1].view(B, T), tokens[1:].view(B, T)

    logits, loss, grads = loss_and_grads(params, inputs, targets, cfg)
    flat = flatten(params, cfg)
    flat_f32 = flat.numpy().astype("<f4")
    assert np.array_equal(flat_f32.astype(np.float64), flat.numpy())  # params are exactly float32 values
    flat_grads = flatten(grads, cfg)
    after_adamw = adamw_step(flat, flat_grads, ADAMW)

    bf16_bits = bf16_round_nearest_even(flat_f32)
    assert np.array_equal(bf16_bits, torch.from_numpy(flat_f32).to(torch.bfloat16).view(torch.int16)
                          .numpy().view("<u2"))  # our rounding == torch's
    bf16_params = unflatten(torch.from_numpy(bf16_widen(bf16_bits).astype(np.float64)), cfg)
    with torch.no_grad():
        loss_bf16 = forward(bf16_params, inputs, targets, cfg)[1].item()

    os.makedirs(OUT_DIR, exist_ok=True)
    write_bytes("model.bin", model_header(cfg, FP32_VERSION) + flat_f32.tobytes())
    write_bytes("model_bf16.bin", model_header(cfg, BF16_VERSION) + bf16_bits.tobytes())
    write_bytes("tokens.bin", header([TOKENS_MAGIC, TOKENS_VERSION, B * T + 1]) +
                tokens.numpy().astype("<u2").tobytes())
    write_bytes("logits.bin", f32_bytes(logits))
    write_bytes("grads.bin", f32_bytes(flat_grads))
    write_bytes("adamw.bin", f32_bytes(after_adamw))
    write_bytes("meta.json", (json.dumps(meta(cfg, loss, loss_bf16, grads), indent=2) + "\n").encode())

    print(f"loss {loss:.10f} (ln V = {math.log(cfg['vocab_size']):.6f}), bf16 weights: {loss_bf16:.10f}")
    check_param_count(cfg, params)
    check_finite_differences(params, grads, inputs, targets, cfg, gen)
    check_against_builtins(params, logits, loss, inputs, targets, cfg)
    check_sensitivity(params, logits, loss, inputs, targets, cfg)
    check_adamw_against_torch(flat, flat_grads, after_adamw)
    report_float32_roundoff(params, logits, loss, flat_grads, inputs, targets, cfg)
    check_read_back(cfg, flat_f32, bf16_bits, tokens)
    file_summary()


def meta(cfg, loss, loss_bf16, grads):
    g = flatten(grads, cfg).abs()
    return {
        "config": cfg, "B": B, "T": T, "seed": SEED,
        "init": f"weights N(0, {INIT_STD}), attprojw/fcprojw N(0, {INIT_STD}/sqrt(2L)), LayerNorm weights "
                "1+0.1*N, all biases and LayerNorm biases 0.05*N, wte rows V..Vp-1 zero",
        "param_count": param_count_formula(cfg),
        "loss": loss, "loss_bf16": loss_bf16,
        "adamw": dict(ADAMW, step=1, convention=(
            "llm.c CPU AdamW, t=1 from zero moments: m=(1-b1)g, v=(1-b2)g^2, mhat=m/(1-b1^t), "
            "vhat=v/(1-b2^t), theta -= lr*(mhat/(sqrt(vhat)+eps) + weight_decay*theta); "
            "weight decay on every tensor (biases, LayerNorm, embeddings included)")),
        "grad_abs_min_nonzero": g[g > 0].min().item(), "grad_abs_max": g.max().item(),
        "files": {
            "model.bin": "llm.c checkpoint version 3 (fp32), header + P float32",
            "model_bf16.bin": "same weights as version 5: bf16 = float32 rounded to nearest, ties to even "
                              "(torch .to(bfloat16)); loss_bf16 is for these values widened exactly to fp32",
            "tokens.bin": "llm.c token shard, B*T+1 uint16 ids; batch 0: inputs tokens[0:B*T], "
                          "targets tokens[1:B*T+1], both viewed as (B, T)",
            "logits.bin": "float32 (B, T, V), real vocabulary only",
            "grads.bin": "float32 d(mean loss)/d(param), flat in llm.c order, length P; exactly 0 for "
                         "padded wte rows, wpe rows T..maxT-1 and the key bias qkvb[:, C:2C] (softmax "
                         "shift invariance; a float32 backward gets ~1e-9 roundoff there, comparable to "
                         "AdamW eps, so check AdamW by applying it to grads.bin, not to recomputed grads)",
            "adamw.bin": "float32 parameters after one AdamW step from model.bin with grads.bin",
        },
        "dtype_notes": "references computed in float64 from the exact float32 values in model.bin, "
                       "stored as float32; loss and loss_bf16 are the float64 values",
    }


if __name__ == "__main__":
    sys.exit(main())

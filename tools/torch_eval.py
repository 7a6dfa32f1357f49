#!/usr/bin/python3
"""PyTorch's loss for an llm.c checkpoint on llm.c token shards: the reference for `nograd eval`.

Reads a checkpoint (version 3 fp32 or version 5 bf16, widened exactly to fp32) and the token shards, runs
the GPT-2 forward of tools/make_fixtures.py (written from the architecture, no transformers library) in
float64 on the stored values, and prints the mean cross-entropy over the first K batches, cut as `nograd
eval` and llm.c cut them: shards sorted by name, batch k of a shard starts at token k*B*T and holds B*T+1
tokens (inputs, then targets shifted by one), no batch spans two shards.

With --grad-check AFTER.bin it checks one backprop step instead: AFTER.bin is what `nograd train --model M.bin
--optimizer sgd --lr 1 --steps 1 --no-shuffle` saved, so theta0 - theta1 should be PyTorch's float64
gradient of the loss on batch 0 (sgd without momentum or weight decay steps by exactly lr*g).

Run: /usr/bin/python3 tools/torch_eval.py --model M.bin --tokens 'PATTERN' --batch B --seq T [--batches K]
     [--grad-check AFTER.bin]
"""
import argparse
import glob
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import (BF16_VERSION, FP32_VERSION, HEADER_INTS, MODEL_MAGIC, TOKENS_MAGIC,  # noqa: E402
                           TOKENS_VERSION, bf16_widen, forward, param_count_formula, param_shapes,
                           unflatten)

HEADER_BYTES = 4 * HEADER_INTS


def fail(message):
    sys.exit(f"torch_eval: {message}")


def read_checkpoint(path):
    """(config, parameters as float64 tensors) from an llm.c checkpoint."""
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    if len(header) < HEADER_INTS or header[0] != MODEL_MAGIC:
        fail(f"{path}: expected an llm.c checkpoint (magic {MODEL_MAGIC})")
    version = int(header[1])
    if version not in (FP32_VERSION, BF16_VERSION):
        fail(f"{path}: expected version {FP32_VERSION} (fp32) or {BF16_VERSION} (bf16), found {version}")
    keys = ("max_seq_len", "vocab_size", "num_layers", "num_heads", "channels", "padded_vocab_size")
    cfg = dict(zip(keys, map(int, header[2:8])))
    P = param_count_formula(cfg)
    dtype = "<f4" if version == FP32_VERSION else "<u2"
    values = np.fromfile(path, dtype=dtype, offset=HEADER_BYTES)
    if len(values) != P or os.path.getsize(path) != HEADER_BYTES + values.itemsize * P:
        fail(f"{path}: expected {P} parameters for {cfg}, found {os.path.getsize(path)} bytes")
    if version == BF16_VERSION:
        values = bf16_widen(values)
    return cfg, unflatten(torch.from_numpy(values.astype(np.float64)), cfg)


def read_shard(path):
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    if len(header) < HEADER_INTS or header[0] != TOKENS_MAGIC or header[1] != TOKENS_VERSION:
        fail(f"{path}: expected an llm.c token shard (magic {TOKENS_MAGIC}, version {TOKENS_VERSION})")
    tokens = np.fromfile(path, dtype="<u2", offset=HEADER_BYTES)
    if len(tokens) != header[2]:
        fail(f"{path}: header says {header[2]} tokens, file holds {len(tokens)}")
    return tokens


def batches(pattern, B, T, K):
    """The first K (inputs, targets) pairs, each (B, T), in nograd's and llm.c's unshuffled order."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        fail(f"{pattern}: no token shard matches this pattern")
    out, BT = [], B * T
    for path in paths:
        tokens = read_shard(path)
        for start in range(0, len(tokens) - BT, BT):  # start + B*T + 1 <= ntok
            if len(out) == K:
                return out
            chunk = torch.from_numpy(tokens[start:start + BT + 1].astype(np.int64))
            out.append((chunk[:-1].view(B, T), chunk[1:].view(B, T)))
    if len(out) < K:
        fail(f"{pattern}: {K} batches requested, but B={B} T={T} gives only {len(out)}")
    return out


def gradient(params, inputs, targets, cfg, dtype):
    """(loss, gradient as float64 tensors) by autograd, the forward computed in dtype."""
    leaves = {k: v.detach().to(dtype, copy=True).requires_grad_(True) for k, v in params.items()}
    loss = forward(leaves, inputs, targets, cfg)[1]
    loss.backward()
    return loss.item(), {k: v.grad.to(torch.float64) for k, v in leaves.items()}


def step_errors(steps, grad):
    """Per tensor (name, max |step - grad|, ||step - grad||^2, ||grad||^2)."""
    return [(k, (steps[k] - grad[k]).abs().max().item(), (steps[k] - grad[k]).square().sum().item(),
             grad[k].square().sum().item()) for k in grad]


def grad_check(params, after_path, inputs, targets, cfg):
    """Compares theta0 - theta1 (nograd's sgd step at lr 1) with autograd's float64 gradient g, beside the
    same step taken by PyTorch in float32 (theta0 - fp32(theta0 - g32)): the error fp32 itself leaves."""
    after_cfg, after = read_checkpoint(after_path)
    if after_cfg != cfg:
        fail(f"{after_path}: expected the configuration of --model {cfg}, found {after_cfg}")
    for flag, values in (("--model", params), ("--grad-check", after)):
        if values["wte"][cfg["vocab_size"]:].abs().max() != 0:
            fail(f"{flag}: padded vocabulary rows of wte (>= {cfg['vocab_size']}) are not zero")
    loss, grad = gradient(params, inputs, targets, cfg, torch.float64)
    loss32, grad32 = gradient(params, inputs, targets, cfg, torch.float32)
    nograd = step_errors({k: params[k] - after[k] for k in grad}, grad)
    torch32 = step_errors({k: params[k] - (params[k].float() - grad32[k].float()).double() for k in grad}, grad)
    print(f"loss {loss:.10f} (float32: {loss32:.10f})")
    print(f"{'tensor':>9} {'max |g|':>10}   nograd: {'max |step-g|':>12} {'rel. err.':>10}"
          f"   torch fp32: {'max |step-g|':>12} {'rel. err.':>10}")
    for (name, err, err2, grad2), (_, err32, err2_32, _) in zip(nograd, torch32):
        print(f"{name:>9} {grad[name].abs().max().item():10.3e}   {'':8}{err:12.3e} {math.sqrt(err2 / grad2):10.3e}"
              f"   {'':12}{err32:12.3e} {math.sqrt(err2_32 / grad2):10.3e}")
    print(f"max |g| {max(g.abs().max().item() for g in grad.values()):.3e}")
    for label, rows in (("nograd", nograd), ("torch fp32", torch32)):
        rel, worst = max((math.sqrt(e2 / g2), name) for name, _, e2, g2 in rows)
        total = math.sqrt(sum(r[2] for r in rows) / sum(r[3] for r in rows))
        print(f"{label}: max |step - g| {max(r[1] for r in rows):.3e}, ||step - g|| / ||g|| {total:.3e}, "
              f"worst tensor {worst} {rel:.3e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="llm.c checkpoint, fp32 (v3) or bf16 (v5)")
    parser.add_argument("--tokens", required=True, help="glob of llm.c token shards, quoted")
    parser.add_argument("--batch", type=int, required=True, help="sequences per batch (B)")
    parser.add_argument("--seq", type=int, required=True, help="tokens per sequence (T)")
    parser.add_argument("--batches", type=int, default=1, help="batches to average over (K, default 1)")
    parser.add_argument("--grad-check", metavar="AFTER.bin", help="compare the model nograd saved after one "
                        "sgd step (lr 1, no shuffle) with the gradient on batch 0")
    args = parser.parse_args()
    if min(args.batch, args.seq, args.batches) < 1:
        fail("--batch, --seq and --batches must be >= 1")

    torch.set_num_threads(2)  # the machine has 2 shared cores
    cfg, params = read_checkpoint(args.model)
    if args.seq > cfg["max_seq_len"]:
        fail(f"--seq {args.seq} exceeds the model's max_seq_len {cfg['max_seq_len']}")
    if args.grad_check and args.batches != 1:
        fail("--grad-check uses batch 0 only: drop --batches")
    data = batches(args.tokens, args.batch, args.seq, args.batches)
    if any(int(max(inputs.max(), targets.max())) >= cfg["vocab_size"] for inputs, targets in data):
        fail(f"{args.tokens}: token id >= vocab size {cfg['vocab_size']}")
    if args.grad_check:
        grad_check(params, args.grad_check, *data[0], cfg)
        return
    total = 0.0
    with torch.no_grad():
        for inputs, targets in data:
            total += forward(params, inputs, targets, cfg)[1].item()  # mean over B*T positions
    loss = total / args.batches  # every batch has B*T positions: mean of means = mean over all
    print(f"loss {loss:.10f}")
    assert math.isfinite(loss)


if __name__ == "__main__":
    main()

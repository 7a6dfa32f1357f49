#!/usr/bin/python3
"""Reference GPT-2 encoder: makes tests/fixtures/tokenizer_cases.json, the ids nograd's C++ tokenizer must give.

Written from OpenAI's published GPT-2 algorithm (byte-to-unicode alphabet, pre-tokenizer pattern run by the
Python `regex` module, merges applied in rank order). Run it with Debian's python3 and python3-regex:

    data/fetch-vocab.sh && /usr/bin/python3 tools/reference_encode.py [--check-node]

Input: a JSON list of {"name", "text"} or {"name", "hex"} cases (hex = raw bytes, for invalid UTF-8).
Bytes that are not UTF-8 are decoded with Python's "surrogateescape" handler: each becomes a lone surrogate,
which the pattern treats like punctuation, and is encoded back to its raw byte before BPE.
Output: each case with its bytes in hex, its text (when valid UTF-8) and ids, plus the code point ranges of
the pattern's three classes (\\p{L}, \\p{N}, \\s) as this `regex` module sees them, so the C++ test can check
its pre-tokenizer on every code point. --check-node also runs the npm package's JavaScript encoder on the
valid-UTF-8 cases and prints where it disagrees (a second opinion; it never changes the fixture).
"""
import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import regex

PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def byte_alphabet():
    """byte value -> the character that stands for it in encoder.json and vocab.bpe."""
    printable = [b for b in range(256) if ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    alphabet, extra = {}, 0
    for b in range(256):
        if b in printable:
            alphabet[b] = chr(b)
        else:
            alphabet[b] = chr(256 + extra)
            extra += 1
    return alphabet


def load_vocabulary(vocab_dir):
    with open(os.path.join(vocab_dir, "encoder.json"), encoding="utf-8") as f:
        encoder = json.load(f)
    with open(os.path.join(vocab_dir, "vocab.bpe"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1:-1]]  # first line is "#version: 0.2"
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    return encoder, ranks


def bpe(symbols, ranks):
    """Join the adjacent pair of lowest rank everywhere it occurs, left to right, until no pair has a rank."""
    word = list(symbols)
    while len(word) > 1:
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        best = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
        if best not in ranks:
            break
        joined, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                joined.append(word[i] + word[i + 1])
                i += 2
            else:
                joined.append(word[i])
                i += 1
        word = joined
    return word


def encode(data, encoder, ranks, alphabet):
    text = data.decode("utf-8", "surrogateescape")
    ids = []
    for piece in PATTERN.findall(text):
        raw = piece.encode("utf-8", "surrogateescape")
        ids += [encoder[token] for token in bpe([alphabet[b] for b in raw], ranks)]
    return ids


def class_ranges(expression):
    """Code point ranges [first, last] matched by a one-character expression (surrogates left out)."""
    matcher, ranges = regex.compile(expression), []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or not matcher.fullmatch(chr(cp)):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def case_bytes(case):
    return bytes.fromhex(case["hex"]) if "hex" in case else case["text"].encode("utf-8")


def one_item_per_line(fixture):
    """JSON with one class or one case per line: small, yet readable and diffable."""
    compact = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    head = ",\n".join(f"{compact(k)}:{compact(v)}" for k, v in fixture.items() if k not in ("classes", "cases"))
    classes = ",\n".join(f" {compact(k)}:{compact(v)}" for k, v in fixture["classes"].items())
    cases = ",\n".join(" " + compact(case) for case in fixture["cases"])
    return f'{{{head},\n"classes":{{\n{classes}}},\n"cases":[\n{cases}]}}\n'


def node_second_opinion(cases):
    """Encodes the valid-UTF-8 cases with gpt-3-encoder's Encoder.js; prints disagreements."""
    tarball = os.path.join(ROOT, "data", "cache", "gpt-3-encoder-1.1.4.tgz")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp)
        texts = [c.get("text") for c in cases]
        script = ("const {encode} = require(process.argv[1]);"
                  "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
                  "console.log(JSON.stringify(texts.map(t => t === null ? null : encode(t))));")
        run = subprocess.run(["node", "-e", script, os.path.join(tmp, "package", "Encoder.js")],
                             input=json.dumps(texts), capture_output=True, text=True, check=True)
    disagree = 0
    for case, js_ids in zip(cases, json.loads(run.stdout)):
        if js_ids is not None and js_ids != case["ids"]:
            disagree += 1
            print(f"node disagrees on {case['name']!r}:\n  python {case['ids']}\n  node   {js_ids}", file=sys.stderr)
    checked = sum(t is not None for t in texts)
    print(f"node: {checked - disagree} of {checked} valid-UTF-8 cases agree", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", default=os.path.join(ROOT, "data", "cache", "gpt2-vocab"))
    parser.add_argument("--inputs", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer_inputs.json"))
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer_cases.json"))
    parser.add_argument("--check-node", action="store_true", help="compare with the npm package's JS encoder")
    args = parser.parse_args()

    encoder, ranks = load_vocabulary(args.vocab)
    alphabet = byte_alphabet()
    with open(args.inputs, encoding="utf-8") as f:
        inputs = json.load(f)
    cases = []
    for case in inputs:
        data = case_bytes(case)
        out = {"name": case["name"], "hex": data.hex()}
        if "text" in case:
            out["text"] = case["text"]
        out["ids"] = encode(data, encoder, ranks, alphabet)
        cases.append(out)
    fixture = {
        "generator": "tools/reference_encode.py (GPT-2 BPE, Python regex pre-tokenizer)",
        "python": sys.version.split()[0],
        "regex_module": regex.__version__,
        "classes": {"letter": class_ranges(r"\p{L}"), "number": class_ranges(r"\p{N}"),
                    "white_space": class_ranges(r"\s")},
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(one_item_per_line(fixture))
    print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)
    if args.check_node:
        node_second_opinion(cases)


if __name__ == "__main__":
    main()

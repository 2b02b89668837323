#!/usr/bin/env python3
"""Derive CLIP's tokenizer files (vocab.json, merges.txt) offline.

The BPE merges ship inside the `open_clip_torch` wheel on PyPI
(`open_clip/bpe_simple_vocab_16e6.txt.gz`). CLIP uses the first 49152 - 256 - 2 merges; the
vocabulary is the 256 byte characters (GPT-2's byte-to-unicode order), the same with `</w>`,
one entry per merge, then `<|startoftext|>` (49406) and `<|endoftext|>` (49407).

Usage: scripts/tokenizer/make_clip_tokenizer.py OUT_DIR [--wheel PATH]
Without --wheel it runs `pip download --no-deps open_clip_torch` into a temporary folder.
Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json (SD v1 style:
pad with <|endoftext|>, max length 77).
"""
import argparse, gzip, json, os, subprocess, sys, tempfile, zipfile


def byte_characters():
    """GPT-2's reversible byte -> printable unicode table, in its canonical order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def read_merges(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    lines = raw.split("\n")
    return [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--wheel")
    args = ap.parse_args()
    wheel = args.wheel
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "open_clip_torch", "-d", tmp], check=True)
        wheel = os.path.join(tmp, [f for f in os.listdir(tmp) if f.endswith(".whl")][0])
    merges = read_merges(wheel)
    assert len(merges) == 48894, len(merges)
    base = byte_characters()
    vocab = base + [c + "</w>" for c in base] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    with open(os.path.join(args.out, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "CLIPTokenizer", "model_max_length": 77,
                   "do_lower_case": True, "errors": "replace", **special}, f, indent=2)
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {args.out}")


if __name__ == "__main__":
    main()

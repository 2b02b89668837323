#!/usr/bin/env python3
"""Tiles the first N PNGs of a folder (sorted by name) into a grid image, for the docs.

Usage: scripts/grid.py FOLDER OUT.png [--columns 4] [--count 16]
Needs Pillow (scripts/requirements.txt)."""
import argparse
import pathlib

from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--columns", type=int, default=4)
    ap.add_argument("--count", type=int, default=16)
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.folder).glob("*.png"))[: args.count]
    if not files:
        raise SystemExit(f"no PNG files in {args.folder}")
    images = [Image.open(f).convert("RGB") for f in files]
    w, h = images[0].size
    rows = (len(images) + args.columns - 1) // args.columns
    grid = Image.new("RGB", (w * args.columns, h * rows), (255, 255, 255))
    for i, im in enumerate(images):
        grid.paste(im, ((i % args.columns) * w, (i // args.columns) * h))
    grid.save(args.out, optimize=True)
    print(f"{args.out}: {len(images)} images, {args.columns} columns")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Count stray pixels in shapes-world images: how clean are they away from the object?

A pixel is stray when its colour differs from the background (the median of the image border)
by more than 40 of 255 in some channel and it lies more than 3 px from the largest such blob
(the object). The shapes world draws nothing else, so a clean image has none; fringes, streaks
and speckles show up as stray pixels. Needs numpy and Pillow (the training venv has both).

    python3 scripts/stray-pixels.py outputs/quality/cutoff-1-uncond
"""
import argparse
import glob
from collections import deque

import numpy as np
from PIL import Image


def largest_blob(mask):
    """The largest 4-connected component of a boolean mask."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    best = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        blob, queue = [], deque([(y0, x0)])
        seen[y0, x0] = True
        while queue:
            y, x = queue.popleft()
            blob.append((y, x))
            for yy, xx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and not seen[yy, xx]:
                    seen[yy, xx] = True
                    queue.append((yy, xx))
        if len(blob) > len(best):
            best = blob
    out = np.zeros_like(mask)
    for y, x in best:
        out[y, x] = True
    return out


def dilate(mask, steps):
    for _ in range(steps):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def stray_pixels(path, threshold=40, margin=3):
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    not_background = np.abs(rgb - np.median(border, axis=0)).max(-1) > threshold
    near_object = dilate(largest_blob(not_background), margin)
    return int((not_background & ~near_object).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="a directory of PNG files")
    args = parser.parse_args()
    files = sorted(glob.glob(f"{args.directory}/*.png"))
    if not files:
        parser.error(f"no PNG files in {args.directory}")
    counts = np.array([stray_pixels(f) for f in files])
    print(f"{len(files)} images; stray pixels per image: median {np.median(counts):.0f}, "
          f"mean {counts.mean():.1f}")
    for bar in (0, 10, 50, 200):
        print(f"  images with more than {bar:>3}: {(counts > bar).sum()}")
    worst = np.argsort(-counts)[:5]
    print("worst: " + ", ".join(f"{files[i].split('/')[-1]} ({counts[i]})" for i in worst))


if __name__ == "__main__":
    main()

"""Fixed captions for sample grids: every attribute stated, drawn with a fixed seed, in the
caption grammar of shapes-world.md."""
import numpy as np

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star", "cross"]
SIZES = ["small", "large"]
PATTERNS = ["plain", "striped", "dotted"]
POSITIONS = {"center": "in the center", "left": "on the left", "right": "on the right",
             "top": "at the top", "bottom": "at the bottom"}


def caption(size, color, pattern, shape, position, background):
    words = ["a", size, color] + ([pattern] if pattern != "plain" else []) + [shape]
    return " ".join(words + [POSITIONS[position], f"on a {background} background"])


def sample_captions(n, seed=2024):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        color = COLORS[rng.integers(8)]
        background = [c for c in COLORS if c != color][rng.integers(7)]
        out.append(caption(SIZES[rng.integers(2)], color, PATTERNS[rng.integers(3)], SHAPES[rng.integers(5)],
                           list(POSITIONS)[rng.integers(5)], background))
    return out

"""Shared pieces of the shapes-model training: paths, the data set, model configs, checkpoints.

Everything outside git lives under STATE (checkpoints, caches, logs, sample grids) and DATA
(the Swift-generated data set). Both can be moved with environment variables.
"""
import json
import os
import time

import numpy as np
import torch
from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("SHAPES_DATA", "/work/train-data")
STATE = os.environ.get("SHAPES_STATE", "/work/train-state")
TOKENIZER = os.path.join(REPO, "models", "shapes", "tokenizer")

# SD v1 structure, scaled down (numbers.md has the cost of each on this CPU).
VAE_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4,
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=[16, 32, 64, 64], layers_per_block=1,
    # 4 channels per group: with 16 groups over 16 channels, GroupNorm would normalise each
    # channel on its own and erase the absolute colour of flat areas (a first run drifted so).
    act_fn="silu", norm_num_groups=4, sample_size=128,
)
TEXT_CONFIG = dict(
    vocab_size=49408, hidden_size=128, intermediate_size=512, num_hidden_layers=2,
    num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
    projection_dim=128, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
)
UNET_CONFIG = dict(
    sample_size=16, in_channels=4, out_channels=4,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[64, 128, 128], layers_per_block=1,
    attention_head_dim=8,  # SD v1 semantics: this is the number of heads
    cross_attention_dim=128, norm_num_groups=32, flip_sin_to_cos=True, freq_shift=0,
    act_fn="silu", use_linear_projection=False,
)
# The SD v1 training schedule: scaled_linear betas, 1000 steps, epsilon prediction.
TRAIN_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                      beta_schedule="scaled_linear", prediction_type="epsilon")


def learning_rate(base, step, total, warmup, decay_share=0.3, floor=0.1):
    """Linear warm-up, constant, then a linear decay to floor * base over the last decay_share
    of the total steps (the total is the target of the current run: raising it later moves
    the decay)."""
    lr = base * min(1.0, (step + 1) / warmup)
    start = total * (1 - decay_share)
    if step > start:
        lr *= 1 - (1 - floor) * min(1.0, (step - start) / max(1.0, total - start))
    return lr


def log(stage, message):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    print(f"{stamp} [{stage}] {message}", flush=True)


def setup_threads():
    torch.set_num_threads(int(os.environ.get("SHAPES_THREADS", "2")))


def records():
    """The data set's captions.jsonl records, in file order."""
    with open(os.path.join(DATA, "captions.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def images_uint8():
    """All data set images as one uint8 array (N, H, W, 3), decoded once and cached as .npy."""
    recs = records()
    cache = os.path.join(STATE, f"images_{len(recs)}.npy")
    if os.path.exists(cache):
        return np.load(cache, mmap_mode="r")
    log("data", f"decoding {len(recs)} PNGs into {cache}")
    first = np.asarray(Image.open(os.path.join(DATA, recs[0]["file"])).convert("RGB"))
    out = np.lib.format.open_memmap(cache + ".tmp.npy", mode="w+", dtype=np.uint8, shape=(len(recs),) + first.shape)
    for i, r in enumerate(recs):
        out[i] = np.asarray(Image.open(os.path.join(DATA, r["file"])).convert("RGB"))
    out.flush()
    del out
    os.replace(cache + ".tmp.npy", cache)
    return np.load(cache, mmap_mode="r")


def to_model_range(batch_uint8):
    """uint8 NHWC -> float NCHW in [-1, 1], as SD's VAE sees images."""
    x = torch.from_numpy(np.ascontiguousarray(batch_uint8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def to_uint8(x):
    """float NCHW in [-1, 1] -> uint8 NHWC."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_grid(images_uint8, path, columns=8):
    n, h, w, _ = images_uint8.shape
    rows = (n + columns - 1) // columns
    grid = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = images_uint8[i]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(grid).save(path)


def save_checkpoint(path, state):
    """Atomic: a crash mid-write never leaves a broken checkpoint behind."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


class StopFlag:
    """Set by SIGTERM/SIGINT so the training loop can checkpoint before it exits (with 143, so
    train_all.sh stops instead of moving on to the next stage)."""

    def __init__(self):
        import signal
        self.stop = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, *_):
        self.stop = True


def load_checkpoint(path):
    if not os.path.exists(path):
        return None
    return torch.load(path, map_location="cpu", weights_only=False)

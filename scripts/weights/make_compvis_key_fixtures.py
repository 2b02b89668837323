#!/usr/bin/env python3
"""Writes Tests/StableDiffusionTests/Weights/Fixtures/compvis_keys.json.

For a few UNet / VAE / CLIP text encoder configs (two tiny ones and SD v1.5 itself) it records
every parameter name and shape that diffusers / transformers give the model, paired with the name
the same tensor has in a single-file CompVis (LDM) checkpoint.

The CompVis names are proposed by a small generator below and then *checked with diffusers' own
single-file converter* (diffusers.loaders.single_file_utils.convert_ldm_unet_checkpoint,
convert_ldm_vae_checkpoint, convert_ldm_clip_checkpoint): a pair is written only if diffusers
maps that CompVis name to exactly that diffusers name and shape, and the script fails unless
every parameter of the model is reached. The Swift tests then hold the Swift mapping to diffusers'.

Models are built on the `meta` device, so even SD v1.5 costs no memory and no download.
Run by hand (never in CI):  /work/pyenv/bin/python scripts/weights/make_compvis_key_fixtures.py
"""
import json
import os
import sys

import torch
import diffusers
import transformers
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)
from transformers import CLIPTextConfig, CLIPTextModel

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "StableDiffusionTests", "Weights",
                   "Fixtures", "compvis_keys.json")

TINY_A = dict(
    unet=dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=[32, 64],
              layers_per_block=1, down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
              up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], attention_head_dim=2,
              cross_attention_dim=16, norm_num_groups=8),
    vae=dict(block_out_channels=[8, 16], layers_per_block=1, norm_num_groups=4, latent_channels=4,
             down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
             sample_size=16),
    clip=dict(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
              num_attention_heads=2, max_position_embeddings=8, projection_dim=16,
              bos_token_id=98, eos_token_id=99),
)
TINY_B = dict(
    unet=dict(sample_size=8, block_out_channels=[16, 32, 48], layers_per_block=2,
              down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
              up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
              attention_head_dim=[2, 4, 4], cross_attention_dim=24, norm_num_groups=4),
    vae=dict(block_out_channels=[8, 8, 16], layers_per_block=2, norm_num_groups=4,
             down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
             sample_size=32),
    clip=dict(vocab_size=100, hidden_size=24, intermediate_size=48, num_hidden_layers=3,
              num_attention_heads=4, max_position_embeddings=8, projection_dim=24,
              bos_token_id=98, eos_token_id=99),
)
SD15 = dict(
    unet=dict(sample_size=64, cross_attention_dim=768),
    vae=dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2,
             down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
             sample_size=512),
    clip=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, projection_dim=768,
              bos_token_id=0, eos_token_id=2),
)


def unet_prefix_pairs(cfg):
    """(compvis prefix, diffusers prefix, is_resnet) following LDM's block numbering."""
    pairs = [("time_embed.0.", "time_embedding.linear_1.", False), ("time_embed.2.", "time_embedding.linear_2.", False),
             ("input_blocks.0.0.", "conv_in.", False), ("out.0.", "conv_norm_out.", False), ("out.2.", "conv_out.", False)]
    n, lpb = len(cfg["down_block_types"]), cfg["layers_per_block"]
    k = 1
    for b, kind in enumerate(cfg["down_block_types"]):
        for j in range(lpb):
            pairs.append((f"input_blocks.{k}.0.", f"down_blocks.{b}.resnets.{j}.", True))
            if "Attn" in kind:
                pairs.append((f"input_blocks.{k}.1.", f"down_blocks.{b}.attentions.{j}.", False))
            k += 1
        if b < n - 1:
            pairs.append((f"input_blocks.{k}.0.op.", f"down_blocks.{b}.downsamplers.0.conv.", False))
            k += 1
    pairs += [("middle_block.0.", "mid_block.resnets.0.", True), ("middle_block.1.", "mid_block.attentions.0.", False),
              ("middle_block.2.", "mid_block.resnets.1.", True)]
    k = 0
    for b, kind in enumerate(cfg["up_block_types"]):
        for j in range(lpb + 1):
            pairs.append((f"output_blocks.{k}.0.", f"up_blocks.{b}.resnets.{j}.", True))
            if "Attn" in kind:
                pairs.append((f"output_blocks.{k}.1.", f"up_blocks.{b}.attentions.{j}.", False))
            if j == lpb and b < n - 1:
                slot = 2 if "Attn" in kind else 1
                pairs.append((f"output_blocks.{k}.{slot}.conv.", f"up_blocks.{b}.upsamplers.0.conv.", False))
            k += 1
    return pairs


RESNET_PARTS = [("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("out_layers.0.", "norm2."),
                ("out_layers.3.", "conv2."), ("emb_layers.1.", "time_emb_proj."), ("skip_connection.", "conv_shortcut.")]


def unet_compvis_name(name, pairs):
    best = max((p for p in pairs if name.startswith(p[1])), key=lambda p: len(p[1]))
    rest = name[len(best[1]):]
    if best[2]:
        for sd, hf in RESNET_PARTS:
            if rest.startswith(hf):
                rest = sd + rest[len(hf):]
                break
    return best[0] + rest


def vae_compvis_name(name, cfg):
    n, lpb = len(cfg["block_out_channels"]), cfg["layers_per_block"]
    pairs = []
    for part in ("encoder", "decoder"):
        pairs += [(f"{part}.norm_out.", f"{part}.conv_norm_out."), (f"{part}.mid.block_1.", f"{part}.mid_block.resnets.0."),
                  (f"{part}.mid.block_2.", f"{part}.mid_block.resnets.1."), (f"{part}.mid.attn_1.", f"{part}.mid_block.attentions.0.")]
    for i in range(n):
        pairs += [(f"encoder.down.{i}.block.{j}.", f"encoder.down_blocks.{i}.resnets.{j}.") for j in range(lpb)]
        pairs.append((f"encoder.down.{i}.downsample.", f"encoder.down_blocks.{i}.downsamplers.0."))
        pairs += [(f"decoder.up.{n - 1 - i}.block.{j}.", f"decoder.up_blocks.{i}.resnets.{j}.") for j in range(lpb + 1)]
        pairs.append((f"decoder.up.{n - 1 - i}.upsample.", f"decoder.up_blocks.{i}.upsamplers.0."))
    hits = [p for p in pairs if name.startswith(p[1])]
    if not hits:
        return name
    sd, hf = max(hits, key=lambda p: len(p[1]))
    rest = name[len(hf):].replace("conv_shortcut.", "nin_shortcut.")
    if "attentions" in hf:
        for a, b in [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")]:
            if rest.startswith(a):
                rest = b + rest[len(a):]
    return sd + rest


def compvis_shape(name, shape):
    # LDM's VAE attention projections are 1x1 convolutions.
    if ".mid.attn_1." in name and name.split(".")[-2] in ("q", "k", "v", "proj_out") and name.endswith("weight"):
        return list(shape) + [1, 1]
    return list(shape)


def checked_pairs(diffusers_sd, compvis_names, prefix, convert):
    """Runs diffusers' converter on a meta checkpoint with the proposed names and keeps the pairs
    it confirms; fails unless every diffusers parameter is reached from exactly its proposal."""
    ckpt = {prefix + compvis_names[k]: torch.empty(compvis_shape(compvis_names[k], v.shape), device="meta")
            for k, v in diffusers_sd.items()}
    converted = convert(ckpt)
    missing = set(diffusers_sd) - set(converted)
    extra = set(converted) - set(diffusers_sd)
    assert not missing and not extra, (sorted(missing)[:5], sorted(extra)[:5])
    rows = []
    for k, v in sorted(diffusers_sd.items()):
        src = ckpt[prefix + compvis_names[k]]
        assert list(converted[k].shape) == list(v.shape), (k, converted[k].shape, v.shape)
        # Identity (or a view of it, for squeezed VAE projections) proves the pairing.
        assert converted[k] is src or converted[k]._base is src, k
        rows.append([compvis_names[k], k, list(src.shape), list(v.shape)])
    return rows


def case(name, spec):
    with torch.device("meta"):
        unet = UNet2DConditionModel(**spec["unet"])
        vae = AutoencoderKL(**spec["vae"])
        clip = CLIPTextModel(CLIPTextConfig(**spec["clip"]))
    ucfg, vcfg = dict(unet.config), dict(vae.config)
    usd = {k: v for k, v in unet.state_dict().items()}
    pairs = unet_prefix_pairs(ucfg)
    unet_rows = checked_pairs(usd, {k: unet_compvis_name(k, pairs) for k in usd}, "model.diffusion_model.",
                              lambda c: convert_ldm_unet_checkpoint(c, ucfg))
    vsd = vae.state_dict()
    vae_rows = checked_pairs(vsd, {k: vae_compvis_name(k, vcfg) for k in vsd}, "first_stage_model.",
                             lambda c: convert_ldm_vae_checkpoint(c, vcfg))
    csd = {k: v for k, v in clip.state_dict().items() if not k.endswith("position_ids")}
    clip_rows = checked_pairs(csd, {k: k for k in csd}, "cond_stage_model.transformer.",
                              lambda c: convert_ldm_clip_checkpoint(c))
    to_json = lambda d: json.loads(json.dumps(d, default=list))
    return dict(name=name, unet_config=to_json(ucfg), vae_config=to_json(vcfg),
                text_encoder_config=to_json(clip.config.to_dict()),
                unet=unet_rows, vae=vae_rows, text_encoder=clip_rows)


def main():
    cases = [case("tiny-a", TINY_A), case("tiny-b", TINY_B), case("sd15", SD15)]
    doc = dict(generator="scripts/weights/make_compvis_key_fixtures.py", diffusers=diffusers.__version__,
               transformers=transformers.__version__, torch=torch.__version__,
               rows="[compvis name (without component prefix), diffusers name, compvis shape, diffusers shape]",
               cases=cases)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    for c in cases:
        print(c["name"], {k: len(c[k]) for k in ("unet", "vae", "text_encoder")}, file=sys.stderr)


if __name__ == "__main__":
    main()

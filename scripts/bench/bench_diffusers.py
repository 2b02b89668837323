#!/usr/bin/env python3
"""Time diffusers (PyTorch, CPU) on the same SD 1.5 / SD 2.1 / SDXL shapes `sdcluster bench` uses.

Random weights from the real SD 1.5 (or, with --config sd2, SD 2.1; with --config sdxl, SDXL 1.0 base) configs (nothing
downloaded). Prints one line per case in the same format as `sdcluster bench`, so scripts/bench-vs-diffusers.sh can pair
them. For sdxl, as in `sdcluster bench`, the UNet also gets a pooled text embedding (0.1 everywhere) and a 1024x1024
image's time ids, and the text encoder case runs the first encoder (CLIP ViT-L).
Usage: bench_diffusers.py unet|text-encoder|vae [--config sd15|sd2|sdxl] [--sizes ..] [--batches ..] [--repeat N] [--bf16]
"""
import argparse, resource, sys, time

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8, cross_attention_dim=768,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD15_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
                block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)
SD15_CLIP = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")

# SD 2.1: OpenCLIP ViT-H text (1024 wide, 23 layers, GELU), linear projections, 5/10/20/20 heads.
SD2_UNET = dict(SD15_UNET, attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024,
                use_linear_projection=True, upcast_attention=True, sample_size=96)
SD2_CLIP = dict(SD15_CLIP, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
                num_attention_heads=16, hidden_act="gelu")
# SDXL 1.0 base (unet/config.json): three levels, no attention in the first, 1/2/10 transformer blocks per
# attention block, 5/10/20 heads of 64, a 2048-wide context (both text encoders' hidden states side by side) and
# "text_time" conditioning (the second encoder's pooled 1280 + six time ids x 256 = 2816), 128x128 latents.
# The same as Sources/StableDiffusion/Models/SDXLConfigs.swift (`UNetConfig.stableDiffusionXL`).
SDXL_UNET = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, norm_num_groups=32,
                 block_out_channels=(320, 640, 1280),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
# SDXL's VAE: SD's architecture, another latent scale, decoded in fp32 by diffusers when the model is fp16.
SDXL_VAE = dict(SD15_VAE, scaling_factor=0.13025, force_upcast=True, sample_size=1024)
# text_encoder (CLIP ViT-L, as SD 1.5's, with its 768 projection) and text_encoder_2 (OpenCLIP ViT-bigG/14's
# text tower: 1280 wide, 32 layers, 20 heads, plain GELU, a 1280 projection of the pooled output).
SDXL_CLIP = dict(SD15_CLIP, projection_dim=768, bos_token_id=0, eos_token_id=2, pad_token_id=1)
SDXL_CLIP2 = dict(SD15_CLIP, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                  hidden_act="gelu", projection_dim=1280, bos_token_id=0, eos_token_id=2, pad_token_id=1)
# SDXL's time ids for a 1024x1024 image: original size, crop top-left, target size.
SDXL_TIME_IDS = (1024, 1024, 0, 0, 1024, 1024)
CONFIGS = {"sd15": (SD15_UNET, SD15_CLIP, SD15_VAE), "sd2": (SD2_UNET, SD2_CLIP, SD15_VAE),
           "sdxl": (SDXL_UNET, SDXL_CLIP, SDXL_VAE)}


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def timed(fn, repeat):
    with torch.inference_mode():
        fn()
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return best


def report(label, seconds):
    print(f"{label:<28} {seconds:8.3f} s  peak RSS {peak_rss_gib():6.2f} GiB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["unet", "text-encoder", "vae"])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="sd15")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--batches", default="1,2")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--bf16", action="store_true", help="cast the model to bfloat16 (PyTorch's own bf16 kernels)")
    args, _ = ap.parse_known_args()  # options only sdcluster knows (e.g. --profile) are ignored
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    tag = "diffusers" + (" bf16" if args.bf16 else "")
    unet_config, clip_config, vae_config = CONFIGS[args.config]
    if args.what == "unet":
        model = UNet2DConditionModel(**unet_config).eval().to(dtype)
        for size in [int(s) for s in (args.sizes or "32,64").split(",")]:
            for batch in [int(b) for b in args.batches.split(",")]:
                x = torch.randn(batch, 4, size, size, dtype=dtype)
                ctx = torch.randn(batch, 77, unet_config["cross_attention_dim"], dtype=dtype)
                t = torch.full((batch,), 500)
                added = None
                if unet_config.get("addition_embed_type") == "text_time":
                    added = {"text_embeds": torch.full((batch, 1280), 0.1, dtype=dtype),
                             "time_ids": torch.tensor([SDXL_TIME_IDS] * batch, dtype=dtype)}
                report(f"unet {size}x{size} batch {batch}",
                       timed(lambda: model(x, t, ctx, added_cond_kwargs=added), args.repeat))
    elif args.what == "text-encoder":
        model = CLIPTextModel(CLIPTextConfig(**clip_config)).eval().to(dtype)
        ids = torch.tensor([[49406] + [320] * 20 + [49407] * 56] * args.batch)
        report(f"text encoder batch {args.batch}", timed(lambda: model(ids), args.repeat))
    else:
        model = AutoencoderKL(**vae_config).eval().to(dtype)
        for size in [int(s) for s in (args.sizes or "256,512").split(",")]:
            z = torch.randn(1, 4, size // 8, size // 8, dtype=dtype)
            report(f"vae decode {size}x{size}", timed(lambda: model.decode(z), args.repeat))
    print(f"({tag}, torch {torch.__version__}, {torch.get_num_threads()} threads)", file=sys.stderr)


if __name__ == "__main__":
    main()

import Foundation

/// The Stable Diffusion generations sdcluster runs. A diffusers folder describes itself in its
/// configs; a single-file checkpoint's text-encoder keys tell which it is (`CompVisCheckpoint.family`),
/// and its configs are then this family's built-in ones unless a config folder is given.
public enum ModelFamily: String, Sendable {
    /// SD 1.4 / 1.5 and their fine-tunes: OpenAI CLIP ViT-L/14 text, epsilon prediction.
    case stableDiffusion1 = "SD 1.x"
    /// SD 2.0 / 2.1 (512-base and 768-v) and their fine-tunes: OpenCLIP ViT-H text (penultimate
    /// layer), linear projections and per-block heads in the UNet, epsilon or v prediction.
    case stableDiffusion2 = "SD 2.x"
    /// SDXL 1.0 base and its fine-tunes: two text encoders (CLIP ViT-L and OpenCLIP ViT-bigG,
    /// penultimate layers, the second's pooled projection), the UNet's `text_time` conditioning.
    case stableDiffusionXL = "SDXL"
}

extension UNetConfig {
    /// `unet/config.json` of Stable Diffusion 2.1: 1024-wide OpenCLIP text, 5/10/20/20 heads of 64
    /// channels, linear projections, attention upcast. `sampleSize` 96 (768-v) or 64 (512-base).
    public static func stableDiffusion2(sampleSize: Int) -> UNetConfig {
        var config = diffusersDefaults
        config.crossAttentionDim = .one(1024)
        config.attentionHeadDim = .many([5, 10, 20, 20])
        config.useLinearProjection = true
        config.upcastAttention = true
        config.sampleSize = .one(sampleSize)
        return config
    }
}

extension CLIPTextConfig {
    /// `text_encoder/config.json` of Stable Diffusion 2.x: OpenCLIP ViT-H/14's text tower without
    /// its last layer (SD 2 conditions on the penultimate layer, then the final layer norm), plain GELU.
    public static let stableDiffusion2: CLIPTextConfig = {
        var config = transformersDefaults
        config.hiddenSize = 1024
        config.intermediateSize = 4096
        config.projectionDim = 512
        config.numAttentionHeads = 16
        config.numHiddenLayers = 23
        config.hiddenAct = "gelu"
        return config
    }()
}

extension ModelLocation {
    /// `scheduler/scheduler_config.json` of Stable Diffusion 2.1 (DDIM) with the given prediction
    /// type: `v_prediction` for the 768-v models, `epsilon` for 512-base.
    public static func stableDiffusion2SchedulerConfig(_ prediction: PredictionType) -> String {
        """
        {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", \
        "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000, \
        "prediction_type": "\(prediction.rawValue)", "set_alpha_to_one": false, "skip_prk_steps": true, \
        "steps_offset": 1, "trained_betas": null}
        """
    }

    /// SD 2's tokenizer pads with "!" (id 0) where SD 1's pads with the end token; a single file
    /// without a config folder borrows the default CLIP vocabulary and needs this said.
    public static let stableDiffusion2PadToken = "!"
}

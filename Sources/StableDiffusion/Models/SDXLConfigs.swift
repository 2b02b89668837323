import Foundation

extension UNetConfig {
    /// `unet/config.json` of SDXL 1.0 base: three levels of 320/640/1280 channels, no attention
    /// in the first, 1/2/10 transformer blocks, 5/10/20 heads of 64, linear projections, a 2048-wide
    /// context (CLIP ViT-L + OpenCLIP ViT-bigG), `text_time` conditioning, 128x128 latents.
    public static let stableDiffusionXL: UNetConfig = {
        var config = diffusersDefaults
        config.downBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
        config.upBlockTypes = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"]
        config.blockOutChannels = [320, 640, 1280]
        config.attentionHeadDim = .many([5, 10, 20])
        config.transformerLayersPerBlock = .many([1, 2, 10])
        config.crossAttentionDim = .one(2048)
        config.useLinearProjection = true
        config.additionEmbedType = "text_time"
        config.additionTimeEmbedDim = 256
        config.projectionClassEmbeddingsInputDim = 2816
        config.sampleSize = .one(128)
        return config
    }()
}

extension CLIPTextConfig {
    /// `text_encoder_2/config.json` of SDXL 1.0 base: OpenCLIP ViT-bigG/14's text tower (all 32
    /// layers; SDXL reads the penultimate), plain GELU, a 1280-wide projection of the pooled output.
    public static let stableDiffusionXL2: CLIPTextConfig = {
        var config = transformersDefaults
        config.hiddenSize = 1280
        config.intermediateSize = 5120
        config.projectionDim = 1280
        config.numAttentionHeads = 20
        config.numHiddenLayers = 32
        config.hiddenAct = "gelu"
        config.bosTokenId = 0
        config.eosTokenId = 2
        return config
    }()
}

extension VAEConfig {
    /// `vae/config.json` of SDXL 1.0 base: SD 1.5's architecture, `scaling_factor` 0.13025, 1024 px.
    public static let stableDiffusionXL: VAEConfig = {
        var config = stableDiffusion15
        config.scalingFactor = 0.13025
        config.sampleSize = .one(1024)
        return config
    }()
}

extension ModelLocation {
    /// `scheduler/scheduler_config.json` of SDXL 1.0 base (Euler, leading timesteps).
    public static let stableDiffusionXLSchedulerConfig = """
        {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", \
        "beta_start": 0.00085, "clip_sample": false, "interpolation_type": "linear", "num_train_timesteps": 1000, \
        "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false, "skip_prk_steps": true, \
        "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false}
        """
}

import Foundation

extension CompVisKeyMap {
    /// The VAE mapping (names relative to `first_stage_model.`). CompVis indexes the decoder's
    /// `up` levels by resolution like the encoder's (`up.0` is full size, `up.{n-1}` runs first);
    /// diffusers numbers `up_blocks` in execution order, so `up_blocks.i` is `up.{n-1-i}`.
    public static func vae(_ config: VAEConfig) -> CompVisKeyMap {
        var map = CompVisKeyMap()
        for part in ["encoder", "decoder"] {
            map.add("\(part).conv_in.", "\(part).conv_in.")
            map.add("\(part).norm_out.", "\(part).conv_norm_out.")
            map.add("\(part).conv_out.", "\(part).conv_out.")
            map.add("\(part).mid.block_1.", "\(part).mid_block.resnets.0.", .vaeResnet)
            map.add("\(part).mid.block_2.", "\(part).mid_block.resnets.1.", .vaeResnet)
            if config.midBlockAddAttention {
                map.add("\(part).mid.attn_1.", "\(part).mid_block.attentions.0.", .vaeAttention)
            }
        }
        if config.useQuantConv { map.add("quant_conv.", "quant_conv.") }
        if config.usePostQuantConv { map.add("post_quant_conv.", "post_quant_conv.") }

        let count = config.blockCount
        for level in 0..<count {
            for layer in 0..<config.layersPerBlock {
                map.add("encoder.down.\(level).block.\(layer).", "encoder.down_blocks.\(level).resnets.\(layer).", .vaeResnet)
            }
            if level < count - 1 {
                map.add("encoder.down.\(level).downsample.conv.", "encoder.down_blocks.\(level).downsamplers.0.conv.")
            }
        }
        for block in 0..<count {
            let level = count - 1 - block
            for layer in 0..<(config.layersPerBlock + 1) {
                map.add("decoder.up.\(level).block.\(layer).", "decoder.up_blocks.\(block).resnets.\(layer).", .vaeResnet)
            }
            if block < count - 1 {
                map.add("decoder.up.\(level).upsample.conv.", "decoder.up_blocks.\(block).upsamplers.0.conv.")
            }
        }
        return map
    }

}

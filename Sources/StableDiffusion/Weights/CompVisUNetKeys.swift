import Foundation

extension CompVisKeyMap {
    /// The UNet mapping (names relative to `model.diffusion_model.`), derived from the config the
    /// way LDM numbers its blocks: `input_blocks` holds `conv_in`, then per down block its ResNet
    /// (+ attention) layers and a downsampler (all but the last block); `middle_block` holds
    /// ResNet, attention, ResNet; `output_blocks` holds per up block `layers + 1` ResNet
    /// (+ attention) layers, the last one carrying the upsampler (all but the last block).
    public static func unet(_ config: UNetConfig) -> CompVisKeyMap {
        var map = CompVisKeyMap()
        map.add("time_embed.0.", "time_embedding.linear_1.")
        map.add("time_embed.2.", "time_embedding.linear_2.")
        if config.additionEmbedType == "text_time" {  // SDXL: LDM's label_emb is diffusers' add_embedding
            map.add("label_emb.0.0.", "add_embedding.linear_1.")
            map.add("label_emb.0.2.", "add_embedding.linear_2.")
        }
        map.add("input_blocks.0.0.", "conv_in.")
        map.add("out.0.", "conv_norm_out.")
        map.add("out.2.", "conv_out.")
        map.addUNetDownBlocks(config)
        map.addUNetMidBlock(config)
        map.addUNetUpBlocks(config)
        return map
    }

    private mutating func addUNetDownBlocks(_ config: UNetConfig) {
        let count = config.blockCount
        var index = 1
        for block in 0..<count {
            let hasAttention = config.downBlockTypes[block].contains("Attn")
            for layer in 0..<config.layers(forBlock: block) {
                add("input_blocks.\(index).0.", "down_blocks.\(block).resnets.\(layer).", .unetResnet)
                if hasAttention { add("input_blocks.\(index).1.", "down_blocks.\(block).attentions.\(layer).") }
                index += 1
            }
            if block < count - 1 {
                add("input_blocks.\(index).0.op.", "down_blocks.\(block).downsamplers.0.conv.")
                index += 1
            }
        }
    }

    private mutating func addUNetMidBlock(_ config: UNetConfig) {
        guard let type = config.midBlockType else { return }
        add("middle_block.0.", "mid_block.resnets.0.", .unetResnet)
        if type.contains("Attn") {
            add("middle_block.1.", "mid_block.attentions.0.")
            add("middle_block.2.", "mid_block.resnets.1.", .unetResnet)
        } else {
            add("middle_block.1.", "mid_block.resnets.1.", .unetResnet)
        }
    }

    private mutating func addUNetUpBlocks(_ config: UNetConfig) {
        let count = config.blockCount
        var index = 0
        for block in 0..<count {
            let hasAttention = config.upBlockTypes[block].contains("Attn")
            let layers = config.layers(forBlock: count - 1 - block) + 1
            for layer in 0..<layers {
                add("output_blocks.\(index).0.", "up_blocks.\(block).resnets.\(layer).", .unetResnet)
                if hasAttention { add("output_blocks.\(index).1.", "up_blocks.\(block).attentions.\(layer).") }
                if layer == layers - 1, block < count - 1 {
                    // The upsampler follows the attention when there is one, else the ResNet.
                    add("output_blocks.\(index).\(hasAttention ? 2 : 1).conv.", "up_blocks.\(block).upsamplers.0.conv.")
                }
                index += 1
            }
        }
    }
}

import Foundation

/// The text encoder of an SD 2.x single-file checkpoint: OpenCLIP ViT-H's text tower under
/// `cond_stage_model.model.`, mapped onto the transformers `CLIPTextModel` names that diffusers
/// folders use (as diffusers' `convert_open_clip_checkpoint` does).
///
/// Differences from the CLIP layout of SD 1.x files: OpenCLIP names (`ln_1`, `mlp.c_fc`, ...), one
/// `in_proj_weight` / `in_proj_bias` holding the query, key and value projections stacked in that
/// order, the position table as a bare tensor, and one transformer layer more than SD 2 runs
/// (SD 2 takes the penultimate layer's output, then the final layer norm): layers at or past the
/// config's `num_hidden_layers` are not weights of the model, nor are `text_projection`,
/// `logit_scale` and the causal-mask buffer.
enum OpenCLIPTextKeys {
    static let prefix = "cond_stage_model.model."

    /// One diffusers weight held by an OpenCLIP tensor: its name, shape and, for the stacked
    /// projections, its block of rows.
    struct Part: Equatable {
        let name: String
        let shape: [Int]
        let rows: Range<Int>?
        var transposed = false
    }

    enum Mapping: Equatable {
        /// The tensor holds these diffusers weights.
        case parts([Part])
        /// Not a weight of the model SD 2 runs.
        case skipped
        /// No rule knows the name: it stays under its own name so that it surfaces as surplus.
        case unknown
    }

    private static let wholeNames = [
        "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
        "positional_embedding": "text_model.embeddings.position_embedding.weight",
        "ln_final.weight": "text_model.final_layer_norm.weight",
        "ln_final.bias": "text_model.final_layer_norm.bias",
    ]
    private static let notWeights: Set<String> = ["text_projection", "logit_scale", "attn_mask"]
    private static let layerRenames = [
        ("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("mlp.c_fc.", "mlp.fc1."),
        ("mlp.c_proj.", "mlp.fc2."), ("attn.out_proj.", "self_attn.out_proj."),
    ]

    /// How the tensor `name` (relative to `prefix`) of shape `shape` maps, for a text encoder of
    /// `layers` transformer layers.
    /// `keepProjection`: SDXL's second encoder uses `text_projection` (`[width, projection]`),
    /// which becomes `text_projection.weight` transposed, as diffusers' converter does.
    static func mapping(_ name: String, shape: [Int], layers: Int, keepProjection: Bool = false) -> Mapping {
        if let whole = wholeNames[name] { return .parts([Part(name: whole, shape: shape, rows: nil)]) }
        if keepProjection, name == "text_projection", shape.count == 2 {
            return .parts([Part(name: "text_projection.weight", shape: [shape[1], shape[0]], rows: nil, transposed: true)])
        }
        if notWeights.contains(name) { return .skipped }
        let layerPrefix = "transformer.resblocks."
        guard name.hasPrefix(layerPrefix) else { return .unknown }
        let rest = name.dropFirst(layerPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return .unknown }
        if layer >= layers { return .skipped }
        let inner = String(rest[rest.index(after: dot)...])
        let target = "text_model.encoder.layers.\(layer)."
        for (old, new) in layerRenames where inner.hasPrefix(old) {
            return .parts([Part(name: target + new + inner.dropFirst(old.count), shape: shape, rows: nil)])
        }
        if inner == "attn.in_proj_weight" || inner == "attn.in_proj_bias", let stacked = shape.first, stacked % 3 == 0 {
            let width = stacked / 3
            let kind = inner.hasSuffix("weight") ? "weight" : "bias"
            return .parts(["q", "k", "v"].enumerated().map { index, projection in
                Part(name: "\(target)self_attn.\(projection)_proj.\(kind)", shape: [width] + shape.dropFirst(),
                     rows: index * width ..< (index + 1) * width)
            })
        }
        return .unknown
    }
}

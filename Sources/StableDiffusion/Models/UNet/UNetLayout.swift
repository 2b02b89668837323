/// The UNet's structure resolved from its config: per-block channels, head counts, layer
/// counts and attention flags, computed once so the module code reads plainly.
struct UNetLayout: Equatable {
    struct Block: Equatable {
        var outChannels: Int
        var layers: Int
        var hasAttention: Bool
        var heads: Int
        var transformerLayers: Int
        var onlyCrossAttention: Bool
    }
    var inChannels: Int
    var outChannels: Int
    var down: [Block]
    /// Up blocks in execution order (deepest first), as diffusers lists `up_block_types`.
    var up: [Block]
    var midHeads: Int
    var midTransformerLayers: Int
    var hasMidBlock: Bool
    var crossAttentionDim: Int
    var groups: Int
    var epsilon: Float
    var flipSinToCos: Bool
    var freqShift: Float
    var linearProjection: Bool
    var downsamplePadding: Int

    var timeChannels: Int { down[0].outChannels }
    var timeEmbeddingChannels: Int { 4 * down[0].outChannels }
}

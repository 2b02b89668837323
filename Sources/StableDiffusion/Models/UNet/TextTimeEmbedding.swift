import Compute

/// What SDXL's UNet takes besides the latent, the timestep and the text context
/// (diffusers' `added_cond_kwargs`): the pooled, projected text embedding of the second text
/// encoder and the six "micro-conditioning" time ids.
public struct AddedConditioning: Sendable, Equatable {
    /// `text_embeds`: the second text encoder's projected pooled output (1280 wide in SDXL), or
    /// zeros for an empty negative prompt when the model forces zeros.
    public var pooledText: [Float]
    /// `time_ids`: original height, width, crop top, left, target height, width (in pixels).
    public var timeIds: [Float]

    public init(pooledText: [Float], timeIds: [Float]) {
        self.pooledText = pooledText
        self.timeIds = timeIds
    }

    /// diffusers' default time ids for an image of `width` x `height`: the original size and
    /// the target size are the image's, the crop is (0, 0), each pair (height, width).
    public static func defaultTimeIds(width: Int, height: Int) -> [Float] {
        [Float(height), Float(width), 0, 0, Float(height), Float(width)]
    }
}

/// The widths of SDXL's `text_time` embedding, from the UNet config.
struct TextTimeShape: Equatable {
    static let timeIdCount = 6
    /// `addition_time_embed_dim`: sinusoidal features per time id.
    var timeChannels: Int
    /// `projection_class_embeddings_input_dim`: pooled text width + 6 x `timeChannels`.
    var inputChannels: Int
    var pooledTextChannels: Int { inputChannels - Self.timeIdCount * timeChannels }
}

/// diffusers' `addition_embed_type: "text_time"`: each time id through the same sinusoidal
/// features as the timestep (`add_time_proj`), appended to the pooled text embedding, then
/// `add_embedding` (linear, SiLU, linear). The UNet adds the result to the timestep embedding
/// before the SiLU the ResNets apply.
final class TextTimeEmbedding {
    let shape: TextTimeShape
    let features: TimestepEmbedding.Sinusoid
    let linear1: Linear
    let linear2: Linear

    init(_ w: WeightScope, shape: TextTimeShape, embeddingChannels: Int, flipSinToCos: Bool, freqShift: Float) throws {
        self.shape = shape
        features = TimestepEmbedding.Sinusoid(channels: shape.timeChannels, flipSinToCos: flipSinToCos, freqShift: freqShift)
        linear1 = try .load(w("linear_1"), in: shape.inputChannels, out: embeddingChannels)
        linear2 = try .load(w("linear_2"), in: embeddingChannels, out: embeddingChannels)
    }

    /// Checks the widths; throws `UNetInputError` saying what is wrong.
    func check(_ added: AddedConditioning?) throws {
        guard let added else {
            throw UNetInputError("this UNet (addition_embed_type 'text_time', SDXL) needs the pooled text embedding and the time ids")
        }
        guard added.pooledText.count == shape.pooledTextChannels, added.timeIds.count == TextTimeShape.timeIdCount else {
            throw UNetInputError("SDXL conditioning has \(added.pooledText.count) pooled values and \(added.timeIds.count) time ids; "
                + "the UNet takes \(shape.pooledTextChannels) and \(TextTimeShape.timeIdCount)")
        }
    }

    /// `add_embedding([text_embeds, add_time_proj(time_ids)])`, `[1, embeddingChannels]`.
    func callAsFunction(_ added: AddedConditioning) throws -> Tensor {
        var input = added.pooledText
        input.reserveCapacity(shape.inputChannels)
        for id in added.timeIds { input += features(id) }
        let x = Tensor(shape: [1, shape.inputChannels], values: input)
        return try linear2(linear1(x, activation: .silu))
    }
}

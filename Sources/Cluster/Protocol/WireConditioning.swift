import StableDiffusion

/// A text's conditioning on the wire (RESULT-TEXT, TASK-UNET's attached embeddings): the text
/// embedding `[1, tokens, D]` and, for SDXL, the pooled embedding `[1, P]` after it, one
/// payload frame each. Headers describe them as `tensor` and the optional `pooled`.
struct WireConditioning: Sendable, Equatable {
    var embedding: WireTensor
    var pooled: WireTensor?

    init(embedding: WireTensor, pooled: WireTensor? = nil) {
        self.embedding = embedding
        self.pooled = pooled
    }

    init(_ conditioning: TextConditioning) {
        self.init(embedding: WireTensor(conditioning.context), pooled: conditioning.pooled.map { WireTensor($0) })
    }

    var conditioning: TextConditioning { TextConditioning(context: embedding.tensor, pooled: pooled?.tensor) }

    /// Its payload frames, in order.
    func encodedFrames() -> [[UInt8]] { [embedding.encodedFrame()] + (pooled.map { [$0.encodedFrame()] } ?? []) }

    /// How many payload frames a header entry with (or without) a pooled spec announces.
    static func frameCount(pooled: TensorSpec?) -> Int { pooled == nil ? 1 : 2 }

    /// Reads the frames a header entry announced; a pooled embedding must be `[1, P]`.
    static func read(_ reader: inout PayloadReader, tensor: TensorSpec, pooled: TensorSpec?, field: String) throws -> Self {
        let embedding = try reader.tensor(tensor, field: field)
        guard let pooled else { return Self(embedding: embedding) }
        guard pooled.shape.count == 2, pooled.shape[0] == 1, pooled.shape[1] >= 1 else {
            throw ProtocolError.invalidField(field + ".pooled", reason: "shape \(pooled.shape) is not [1, width]")
        }
        return Self(embedding: embedding, pooled: try reader.tensor(pooled, field: field + ".pooled"))
    }
}

// What a worker sends back for a task: each answer and its wire form (docs/protocol.md).

import StableDiffusion

/// One text's conditioning in a RESULT-TEXT.
struct EncodedText: Sendable, Equatable {
    var slot: TextSlot
    var embeddingId: String
    var conditioning: WireConditioning
}

/// RESULT-TEXT (worker -> coordinator): the text encoder's output for a TASK-TEXT.
/// Payloads: per entry of `embeddings`, in order, its embedding tensor, then its pooled
/// embedding when the header announces one (SDXL).
struct TextEncodeResult: Sendable, Equatable {
    var taskId: String
    var imageId: String
    var embeddings: [EncodedText]
    /// Time the worker spent computing, for the coordinator's speed estimate.
    var computeSeconds: Double
}

extension TextEncodeResult: WireCodable {
    static let messageType = MessageType.textEncodeResult

    struct Header: Codable {
        struct Entry: Codable { var slot: TextSlot; var embeddingId: String; var tensor: TensorSpec; var pooled: TensorSpec? }
        var taskId: String
        var imageId: String
        var computeSeconds: Double
        var embeddings: [Entry]
    }

    func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, computeSeconds: computeSeconds,
                            embeddings: embeddings.map { .init(slot: $0.slot, embeddingId: $0.embeddingId,
                                                               tensor: $0.conditioning.embedding.spec, pooled: $0.conditioning.pooled?.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: embeddings.flatMap { $0.conditioning.encodedFrames() })
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.nonEmpty(h.imageId, "imageId")
        try Check.seconds(h.computeSeconds, "computeSeconds")
        try Check.range(h.embeddings.count, 1...2, "embeddings")
        try wire.expectPayloads(h.embeddings.reduce(0) { $0 + WireConditioning.frameCount(pooled: $1.pooled) })
        var reader = PayloadReader(wire, limits: limits)
        let entries = try h.embeddings.enumerated().map { i, e in
            try Check.nonEmpty(e.embeddingId, "embeddings[\(i)].embeddingId")
            return EncodedText(slot: e.slot, embeddingId: e.embeddingId,
                               conditioning: try WireConditioning.read(&reader, tensor: e.tensor, pooled: e.pooled, field: "embeddings[\(i)]"))
        }
        return TextEncodeResult(taskId: h.taskId, imageId: h.imageId, embeddings: entries, computeSeconds: h.computeSeconds)
    }
}

/// One prediction in a RESULT-UNET, answering the item of the same position in the task.
struct UNetPrediction: Sendable, Equatable {
    var imageId: String
    var step: Int
    var slot: TextSlot
    /// The UNet output (noise prediction), same shape as the latent it was given.
    var prediction: WireTensor
}

/// RESULT-UNET (worker -> coordinator). Payloads: one prediction tensor per item, in order.
struct UNetEvalResult: Sendable, Equatable {
    var taskId: String
    var items: [UNetPrediction]
    var computeSeconds: Double
}

extension UNetEvalResult: WireCodable {
    static let messageType = MessageType.unetResult

    struct Header: Codable {
        struct Item: Codable { var imageId: String; var step: Int; var slot: TextSlot; var prediction: TensorSpec }
        var taskId: String
        var computeSeconds: Double
        var items: [Item]
    }

    func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, computeSeconds: computeSeconds,
                            items: items.map { .init(imageId: $0.imageId, step: $0.step, slot: $0.slot, prediction: $0.prediction.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: items.map { $0.prediction.encodedFrame() })
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.seconds(h.computeSeconds, "computeSeconds")
        try Check.range(h.items.count, 1...limits.maxBatchItems, "items")
        try wire.expectPayloads(h.items.count)
        var reader = PayloadReader(wire, limits: limits)
        let items = try h.items.enumerated().map { i, item in
            try Check.nonEmpty(item.imageId, "items[\(i)].imageId")
            try Check.range(item.step, 0...Int(Int32.max), "items[\(i)].step")
            return UNetPrediction(imageId: item.imageId, step: item.step, slot: item.slot,
                                  prediction: try reader.tensor(item.prediction, field: "items[\(i)].prediction"))
        }
        return UNetEvalResult(taskId: h.taskId, items: items, computeSeconds: h.computeSeconds)
    }
}

/// RESULT-VAE (worker -> coordinator): the decoded image as 8-bit RGB, converted on the worker
/// the way the local pipeline converts it (`RGBPixels(decoded:)`); the coordinator only
/// PNG-encodes it. Header: `width`, `height`; payload: `width * height * 3` bytes.
struct VAEDecodeResult: Sendable, Equatable {
    var taskId: String
    var imageId: String
    var image: RGBPixels
    var computeSeconds: Double
}

extension VAEDecodeResult: WireCodable {
    static let messageType = MessageType.vaeDecodeResult

    struct Header: Codable {
        var taskId: String
        var imageId: String
        var computeSeconds: Double
        var width: Int
        var height: Int
    }

    func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, computeSeconds: computeSeconds, width: image.width, height: image.height)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: [image.rgb])
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.nonEmpty(h.imageId, "imageId")
        try Check.seconds(h.computeSeconds, "computeSeconds")
        try Check.range(h.width, 1...Int(Int32.max), "width")
        try Check.range(h.height, 1...Int(Int32.max), "height")
        try wire.expectPayloads(1)
        let (area, overflow) = h.width.multipliedReportingOverflow(by: h.height)
        let (bytes, overflow3) = area.multipliedReportingOverflow(by: 3)
        guard !overflow, !overflow3, bytes <= limits.maxTensorBytes else {
            throw ProtocolError.tensorTooLarge(field: "image", bytes: overflow || overflow3 ? Int.max : bytes, limit: limits.maxTensorBytes)
        }
        let frame = wire.payloads[0]
        guard frame.count == bytes else {
            throw ProtocolError.tensorSizeMismatch(field: "image", expectedBytes: bytes, foundBytes: frame.count)
        }
        return VAEDecodeResult(taskId: h.taskId, imageId: h.imageId,
                               image: RGBPixels(width: h.width, height: h.height, rgb: frame), computeSeconds: h.computeSeconds)
    }
}

/// MISSING-EMBEDDING (worker -> coordinator): a TASK-UNET referred to embeddings the worker no
/// longer (or never) had and that the task did not carry. The task was not run; the coordinator
/// re-sends it with those embeddings attached.
struct MissingEmbedding: Codable, Sendable, Equatable {
    var taskId: String
    var embeddingIds: [String]
}

extension MissingEmbedding: HeaderOnlyMessage {
    static let messageType = MessageType.missingEmbedding
    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(taskId, "taskId")
        try Check.range(embeddingIds.count, 1...(2 * limits.maxBatchItems), "embeddingIds")
    }
}

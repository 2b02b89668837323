// Headers and payload order of the worker's tensor-carrying results (see docs/protocol.md).

import StableDiffusion

extension TextEncodeResult: WireCodable {
    public static let messageType = MessageType.textEncodeResult

    struct Header: Codable {
        struct Entry: Codable { var slot: TextSlot; var embeddingId: String; var tensor: TensorSpec }
        var taskId: String
        var imageId: String
        var computeSeconds: Double
        var embeddings: [Entry]
    }

    public func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, computeSeconds: computeSeconds,
                            embeddings: embeddings.map { .init(slot: $0.slot, embeddingId: $0.embeddingId, tensor: $0.embedding.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: embeddings.map { $0.embedding.encodedFrame() })
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.nonEmpty(h.imageId, "imageId")
        try Check.seconds(h.computeSeconds, "computeSeconds")
        try Check.range(h.embeddings.count, 1...2, "embeddings")
        try wire.expectPayloads(h.embeddings.count)
        var reader = PayloadReader(wire, limits: limits)
        let entries = try h.embeddings.enumerated().map { i, e in
            try Check.nonEmpty(e.embeddingId, "embeddings[\(i)].embeddingId")
            return EncodedText(slot: e.slot, embeddingId: e.embeddingId,
                               embedding: try reader.tensor(e.tensor, field: "embeddings[\(i)]"))
        }
        return TextEncodeResult(taskId: h.taskId, imageId: h.imageId, embeddings: entries, computeSeconds: h.computeSeconds)
    }
}

extension UNetEvalResult: WireCodable {
    public static let messageType = MessageType.unetResult

    struct Header: Codable {
        struct Item: Codable { var imageId: String; var step: Int; var slot: TextSlot; var prediction: TensorSpec }
        var taskId: String
        var computeSeconds: Double
        var items: [Item]
    }

    public func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, computeSeconds: computeSeconds,
                            items: items.map { .init(imageId: $0.imageId, step: $0.step, slot: $0.slot, prediction: $0.prediction.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: items.map { $0.prediction.encodedFrame() })
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
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

extension VAEDecodeResult: WireCodable {
    public static let messageType = MessageType.vaeDecodeResult

    struct Header: Codable {
        var taskId: String
        var imageId: String
        var computeSeconds: Double
        var width: Int
        var height: Int
    }

    public func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, computeSeconds: computeSeconds, width: image.width, height: image.height)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: [image.rgb])
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
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

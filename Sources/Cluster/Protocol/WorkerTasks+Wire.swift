// Headers and payload order of the coordinator's tensor-carrying tasks (see docs/protocol.md).

import StableDiffusion

extension UNetEvalTask: WireCodable {
    public static let messageType = MessageType.unetTask

    struct Header: Codable {
        struct Item: Codable {
            var imageId: String
            var step: Int
            var slot: TextSlot
            var timestep: Float
            var embeddingId: String
            var latent: TensorSpec
        }
        struct Embedding: Codable { var embeddingId: String; var tensor: TensorSpec }
        var taskId: String
        var model: String?
        var items: [Item]
        var embeddings: [Embedding]
    }

    public func wireFrames() -> WireFrames {
        let header = Header(
            taskId: taskId, model: model,
            items: items.map { .init(imageId: $0.imageId, step: $0.step, slot: $0.slot, timestep: $0.timestep,
                                     embeddingId: $0.embeddingId, latent: $0.latent.spec) },
            embeddings: embeddings.map { .init(embeddingId: $0.embeddingId, tensor: $0.embedding.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: items.map { $0.latent.encodedFrame() } + embeddings.map { $0.embedding.encodedFrame() })
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.range(h.items.count, 1...limits.maxBatchItems, "items")
        try Check.range(h.embeddings.count, 0...(2 * limits.maxBatchItems), "embeddings")
        try wire.expectPayloads(h.items.count + h.embeddings.count)
        var reader = PayloadReader(wire, limits: limits)
        let items = try h.items.enumerated().map { i, item in
            try Check.nonEmpty(item.imageId, "items[\(i)].imageId")
            try Check.nonEmpty(item.embeddingId, "items[\(i)].embeddingId")
            try Check.range(item.step, 0...Int(Int32.max), "items[\(i)].step")
            try Check.finite(item.timestep, "items[\(i)].timestep")
            return UNetEvalItem(imageId: item.imageId, step: item.step, slot: item.slot, timestep: item.timestep,
                                embeddingId: item.embeddingId, latent: try reader.tensor(item.latent, field: "items[\(i)].latent"))
        }
        let embeddings = try h.embeddings.enumerated().map { i, e in
            try Check.nonEmpty(e.embeddingId, "embeddings[\(i)].embeddingId")
            return AttachedEmbedding(embeddingId: e.embeddingId, embedding: try reader.tensor(e.tensor, field: "embeddings[\(i)]"))
        }
        return UNetEvalTask(taskId: h.taskId, model: h.model, items: items, embeddings: embeddings)
    }
}

extension VAEDecodeTask: WireCodable {
    public static let messageType = MessageType.vaeDecodeTask

    struct Header: Codable {
        var taskId: String
        var imageId: String
        var model: String?
        var latent: TensorSpec
    }

    public func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, model: model, latent: latent.spec)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: [latent.encodedFrame()])
    }

    public static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.nonEmpty(h.imageId, "imageId")
        try wire.expectPayloads(1)
        var reader = PayloadReader(wire, limits: limits)
        return VAEDecodeTask(taskId: h.taskId, imageId: h.imageId, model: h.model,
                             latent: try reader.tensor(h.latent, field: "latent"))
    }
}

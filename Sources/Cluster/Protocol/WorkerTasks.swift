// What the coordinator asks a worker to compute: each task and its wire form (docs/protocol.md).

import StableDiffusion

/// TASK-TEXT (coordinator -> worker): encode an image's prompt and/or negative prompt.
/// The worker keeps each result in its embedding cache under the given id (it will be asked to
/// use it in TASK-UNET) and sends it back in RESULT-TEXT. No payloads.
struct TextEncodeTask: Codable, Sendable, Equatable {
    var taskId: String
    var imageId: String
    /// Model name; nil = the worker's default model.
    var model: String?
    var prompt: String
    var negativePrompt: String
    /// Which texts to encode (cond = prompt, uncond = negative prompt) and the embedding id
    /// each one gets.
    var outputs: [TextOutput]
    /// How the texts are read (the request's `prompt_syntax`, `clip_skip`); nil: the standard
    /// (A1111 syntax, last layer). Left out of the header when nil, as before they existed.
    var promptSyntax: PromptSyntax? = nil
    var clipSkip: Int? = nil

    /// The encoding these fields describe.
    var encoding: TextEncoding { TextEncoding(syntax: promptSyntax ?? .a1111, clipSkip: clipSkip ?? 1) }

    struct TextOutput: Codable, Sendable, Equatable {
        var slot: TextSlot
        var embeddingId: String
    }
}

extension TextEncodeTask: HeaderOnlyMessage {
    static let messageType = MessageType.textEncodeTask
    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(taskId, "taskId")
        try Check.nonEmpty(imageId, "imageId")
        try Check.range(outputs.count, 1...2, "outputs")
        for (i, o) in outputs.enumerated() { try Check.nonEmpty(o.embeddingId, "outputs[\(i)].embeddingId") }
    }
}

/// One evaluation in a TASK-UNET: run the UNet on `latent` at `timestep` with the text
/// conditioning `embeddingId` (and, for SDXL, the six `timeIds`).
struct UNetEvalItem: Sendable, Equatable {
    var imageId: String
    /// The sampling step this evaluation belongs to (lets late duplicates be recognised).
    var step: Int
    var slot: TextSlot
    var timestep: Float
    var embeddingId: String
    /// The model input for this evaluation (already scaled as the scheduler requires).
    var latent: WireTensor
    /// SDXL's time ids (original height, width, crop top, left, target height, width), sent
    /// with the conditionings that carry a pooled embedding; nil for other families.
    var timeIds: [Float]? = nil

    static let timeIdCount = 6
}

/// A conditioning attached to a TASK-UNET because the coordinator believes the worker lacks it.
struct AttachedEmbedding: Sendable, Equatable {
    var embeddingId: String
    var conditioning: WireConditioning
}

/// TASK-UNET (coordinator -> worker): a batch of UNet evaluations, possibly from several
/// images, run as one UNet call. Payloads: the latents of `items` in order, then the frames of
/// `embeddings` in order (each its embedding, then its pooled embedding when it has one).
struct UNetEvalTask: Sendable, Equatable {
    var taskId: String
    var model: String?
    var items: [UNetEvalItem]
    var embeddings: [AttachedEmbedding] = []
}

extension UNetEvalTask: WireCodable {
    static let messageType = MessageType.unetTask

    struct Header: Codable {
        struct Item: Codable {
            var imageId: String
            var step: Int
            var slot: TextSlot
            var timestep: Float
            var embeddingId: String
            var latent: TensorSpec
            var timeIds: [Float]?
        }
        struct Embedding: Codable { var embeddingId: String; var tensor: TensorSpec; var pooled: TensorSpec? }
        var taskId: String
        var model: String?
        var items: [Item]
        var embeddings: [Embedding]
    }

    func wireFrames() -> WireFrames {
        let header = Header(
            taskId: taskId, model: model,
            items: items.map { .init(imageId: $0.imageId, step: $0.step, slot: $0.slot, timestep: $0.timestep,
                                     embeddingId: $0.embeddingId, latent: $0.latent.spec, timeIds: $0.timeIds) },
            embeddings: embeddings.map { .init(embeddingId: $0.embeddingId, tensor: $0.conditioning.embedding.spec,
                                               pooled: $0.conditioning.pooled?.spec) })
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header),
                          payloads: items.map { $0.latent.encodedFrame() } + embeddings.flatMap { $0.conditioning.encodedFrames() })
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.range(h.items.count, 1...limits.maxBatchItems, "items")
        try Check.range(h.embeddings.count, 0...(2 * limits.maxBatchItems), "embeddings")
        try wire.expectPayloads(h.items.count + h.embeddings.reduce(0) { $0 + WireConditioning.frameCount(pooled: $1.pooled) })
        var reader = PayloadReader(wire, limits: limits)
        let items = try h.items.enumerated().map { i, item in
            try Check.nonEmpty(item.imageId, "items[\(i)].imageId")
            try Check.nonEmpty(item.embeddingId, "items[\(i)].embeddingId")
            try Check.range(item.step, 0...Int(Int32.max), "items[\(i)].step")
            try Check.finite(item.timestep, "items[\(i)].timestep")
            if let timeIds = item.timeIds {
                try Check.range(timeIds.count, UNetEvalItem.timeIdCount...UNetEvalItem.timeIdCount, "items[\(i)].timeIds")
                for value in timeIds { try Check.finite(value, "items[\(i)].timeIds") }
            }
            return UNetEvalItem(imageId: item.imageId, step: item.step, slot: item.slot, timestep: item.timestep,
                                embeddingId: item.embeddingId, latent: try reader.tensor(item.latent, field: "items[\(i)].latent"),
                                timeIds: item.timeIds)
        }
        let embeddings = try h.embeddings.enumerated().map { i, e in
            try Check.nonEmpty(e.embeddingId, "embeddings[\(i)].embeddingId")
            return AttachedEmbedding(embeddingId: e.embeddingId,
                                     conditioning: try WireConditioning.read(&reader, tensor: e.tensor, pooled: e.pooled, field: "embeddings[\(i)]"))
        }
        return UNetEvalTask(taskId: h.taskId, model: h.model, items: items, embeddings: embeddings)
    }
}

/// TASK-VAE (coordinator -> worker): decode a final latent into pixels. Payload: the latent.
struct VAEDecodeTask: Sendable, Equatable {
    var taskId: String
    var imageId: String
    var model: String?
    var latent: WireTensor
}

extension VAEDecodeTask: WireCodable {
    static let messageType = MessageType.vaeDecodeTask

    struct Header: Codable {
        var taskId: String
        var imageId: String
        var model: String?
        var latent: TensorSpec
    }

    func wireFrames() -> WireFrames {
        let header = Header(taskId: taskId, imageId: imageId, model: model, latent: latent.spec)
        return WireFrames(type: Self.messageType, header: HeaderCoding.encode(header), payloads: [latent.encodedFrame()])
    }

    static func decode(_ wire: WireFrames, limits: ProtocolLimits) throws -> Self {
        let h = try HeaderCoding.decode(Header.self, from: wire.header)
        try Check.nonEmpty(h.taskId, "taskId")
        try Check.nonEmpty(h.imageId, "imageId")
        try wire.expectPayloads(1)
        var reader = PayloadReader(wire, limits: limits)
        return VAEDecodeTask(taskId: h.taskId, imageId: h.imageId, model: h.model,
                             latent: try reader.tensor(h.latent, field: "latent"))
    }
}

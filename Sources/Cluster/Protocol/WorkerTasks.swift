/// TASK-TEXT (coordinator -> worker): encode an image's prompt and/or negative prompt.
/// The worker keeps each result in its embedding cache under the given id (it will be asked to
/// use it in TASK-UNET) and sends it back in RESULT-TEXT. No payloads.

import StableDiffusion
public struct TextEncodeTask: Codable, Sendable, Equatable {
    public var taskId: String
    public var imageId: String
    /// Model name; nil = the worker's default model.
    public var model: String?
    public var prompt: String
    public var negativePrompt: String
    /// Which texts to encode (cond = prompt, uncond = negative prompt) and the embedding id
    /// each one gets.
    public var outputs: [TextOutput]

    public struct TextOutput: Codable, Sendable, Equatable {
        public var slot: TextSlot
        public var embeddingId: String
        public init(slot: TextSlot, embeddingId: String) {
            self.slot = slot
            self.embeddingId = embeddingId
        }
    }

    public init(taskId: String, imageId: String, model: String?, prompt: String, negativePrompt: String,
                outputs: [TextOutput]) {
        self.taskId = taskId
        self.imageId = imageId
        self.model = model
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.outputs = outputs
    }

    func validate() throws {
        try Check.nonEmpty(taskId, "taskId")
        try Check.nonEmpty(imageId, "imageId")
        try Check.range(outputs.count, 1...2, "outputs")
        for (i, o) in outputs.enumerated() { try Check.nonEmpty(o.embeddingId, "outputs[\(i)].embeddingId") }
    }
}

/// One evaluation in a TASK-UNET: run the UNet on `latent` at `timestep` with the text
/// embedding `embeddingId`.
public struct UNetEvalItem: Sendable, Equatable {
    public var imageId: String
    /// The sampling step this evaluation belongs to (lets late duplicates be recognised).
    public var step: Int
    public var slot: TextSlot
    public var timestep: Float
    public var embeddingId: String
    /// The model input for this evaluation (already scaled as the scheduler requires).
    public var latent: WireTensor

    public init(imageId: String, step: Int, slot: TextSlot, timestep: Float, embeddingId: String, latent: WireTensor) {
        self.imageId = imageId
        self.step = step
        self.slot = slot
        self.timestep = timestep
        self.embeddingId = embeddingId
        self.latent = latent
    }
}

/// An embedding attached to a TASK-UNET because the coordinator believes the worker lacks it.
public struct AttachedEmbedding: Sendable, Equatable {
    public var embeddingId: String
    public var embedding: WireTensor

    public init(embeddingId: String, embedding: WireTensor) {
        self.embeddingId = embeddingId
        self.embedding = embedding
    }
}

/// TASK-UNET (coordinator -> worker): a batch of UNet evaluations, possibly from several
/// images, run as one UNet call. Payloads: the latents of `items` in order, then the tensors of
/// `embeddings` in order.
public struct UNetEvalTask: Sendable, Equatable {
    public var taskId: String
    public var model: String?
    public var items: [UNetEvalItem]
    public var embeddings: [AttachedEmbedding]

    public init(taskId: String, model: String?, items: [UNetEvalItem], embeddings: [AttachedEmbedding] = []) {
        self.taskId = taskId
        self.model = model
        self.items = items
        self.embeddings = embeddings
    }
}

/// TASK-VAE (coordinator -> worker): decode a final latent into pixels. Payload: the latent.
public struct VAEDecodeTask: Sendable, Equatable {
    public var taskId: String
    public var imageId: String
    public var model: String?
    public var latent: WireTensor

    public init(taskId: String, imageId: String, model: String?, latent: WireTensor) {
        self.taskId = taskId
        self.imageId = imageId
        self.model = model
        self.latent = latent
    }
}

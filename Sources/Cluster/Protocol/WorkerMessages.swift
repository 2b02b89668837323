import StableDiffusion

/// A model a worker hosts: its name (what jobs ask for) and a hash of its weights, so the
/// coordinator sends a model's work only to workers whose copies are identical.
public struct HostedModel: Codable, Sendable, Equatable {
    public var name: String
    /// Hex SHA-256 (or any stable digest) of the model's weight files.
    public var contentHash: String
    /// What the coordinator's state machines need to know of the model (latent channels, VAE
    /// factor, scheduler config): the coordinator loads no model itself. Optional in version 1;
    /// a model announced without it cannot be sampled by this coordinator.
    public var info: SamplingModelInfo?

    public init(name: String, contentHash: String, info: SamplingModelInfo? = nil) {
        self.name = name
        self.contentHash = contentHash
        self.info = info
    }
}

/// READY (worker -> coordinator): the worker is up and says what it can do.
public struct WorkerReady: Codable, Sendable, Equatable {
    public var name: String
    public var models: [HostedModel]
    public var threads: Int
    /// Most UNet evaluations it wants in one task.
    public var maxBatch: Int
    /// Its engine fingerprint (`EngineFingerprint.description`: oneDNN version, ISA, kernels,
    /// precision): what decides the bits it computes. Optional in protocol version 1.
    public var engine: String?

    public init(name: String, models: [HostedModel], threads: Int, maxBatch: Int, engine: String? = nil) {
        self.name = name
        self.models = models
        self.threads = threads
        self.maxBatch = maxBatch
        self.engine = engine
    }

    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(name, "name")
        for (i, m) in models.enumerated() {
            try Check.nonEmpty(m.name, "models[\(i)].name")
            try Check.nonEmpty(m.contentHash, "models[\(i)].contentHash")
        }
        try Check.range(threads, 1...4096, "threads")
        try Check.range(maxBatch, 1...limits.maxBatchItems, "maxBatch")
        if let engine { try Check.nonEmpty(engine, "engine") }
    }
}

/// DISCONNECT (either way between worker and coordinator): the sender is leaving.
public struct Disconnect: Codable, Sendable, Equatable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

/// HEARTBEAT: no fields; its header is `{}`.
struct EmptyHeader: Codable, Equatable {
    private struct NoKeys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init() {}

    /// Asks for a keyed container so that anything but a JSON object is refused.
    init(from decoder: Decoder) throws {
        _ = try decoder.container(keyedBy: NoKeys.self)
    }
}

/// One embedding in a RESULT-TEXT.
public struct EncodedText: Sendable, Equatable {
    public var slot: TextSlot
    public var embeddingId: String
    public var embedding: WireTensor

    public init(slot: TextSlot, embeddingId: String, embedding: WireTensor) {
        self.slot = slot
        self.embeddingId = embeddingId
        self.embedding = embedding
    }
}

/// RESULT-TEXT (worker -> coordinator): the text encoder's output for a TASK-TEXT.
/// Payloads: one embedding tensor per entry of `embeddings`, in order.
public struct TextEncodeResult: Sendable, Equatable {
    public var taskId: String
    public var imageId: String
    public var embeddings: [EncodedText]
    /// Time the worker spent computing, for the coordinator's speed estimate.
    public var computeSeconds: Double

    public init(taskId: String, imageId: String, embeddings: [EncodedText], computeSeconds: Double) {
        self.taskId = taskId
        self.imageId = imageId
        self.embeddings = embeddings
        self.computeSeconds = computeSeconds
    }
}

/// One prediction in a RESULT-UNET, answering the item of the same position in the task.
public struct UNetPrediction: Sendable, Equatable {
    public var imageId: String
    public var step: Int
    public var slot: TextSlot
    /// The UNet output (noise prediction), same shape as the latent it was given.
    public var prediction: WireTensor

    public init(imageId: String, step: Int, slot: TextSlot, prediction: WireTensor) {
        self.imageId = imageId
        self.step = step
        self.slot = slot
        self.prediction = prediction
    }
}

/// RESULT-UNET (worker -> coordinator). Payloads: one prediction tensor per item, in order.
public struct UNetEvalResult: Sendable, Equatable {
    public var taskId: String
    public var items: [UNetPrediction]
    public var computeSeconds: Double

    public init(taskId: String, items: [UNetPrediction], computeSeconds: Double) {
        self.taskId = taskId
        self.items = items
        self.computeSeconds = computeSeconds
    }
}

/// RESULT-VAE (worker -> coordinator): the decoded image as 8-bit RGB, converted on the worker
/// the way the local pipeline converts it (`RGBPixels(decoded:)`); the coordinator only
/// PNG-encodes it. Header: `width`, `height`; payload: `width * height * 3` bytes.
public struct VAEDecodeResult: Sendable, Equatable {
    public var taskId: String
    public var imageId: String
    public var image: RGBPixels
    public var computeSeconds: Double

    public init(taskId: String, imageId: String, image: RGBPixels, computeSeconds: Double) {
        self.taskId = taskId
        self.imageId = imageId
        self.image = image
        self.computeSeconds = computeSeconds
    }
}

/// MISSING-EMBEDDING (worker -> coordinator): a TASK-UNET referred to embeddings the worker no
/// longer (or never) had and that the task did not carry. The task was not run; the coordinator
/// re-sends it with those embeddings attached.
public struct MissingEmbedding: Codable, Sendable, Equatable {
    public var taskId: String
    public var embeddingIds: [String]

    public init(taskId: String, embeddingIds: [String]) {
        self.taskId = taskId
        self.embeddingIds = embeddingIds
    }
}

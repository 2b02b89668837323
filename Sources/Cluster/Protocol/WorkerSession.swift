// The messages that open, keep and close a worker's session: READY, HEARTBEAT, DISCONNECT.

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
    /// The external VAE it decodes with (`worker --vae`), for the PNGs' `VAE` fields; optional in
    /// version 1.
    public var vae: HostedVAE? = nil
}

/// A worker's external VAE as AUTOMATIC1111 names it: file name and 10-digit SHA-256.
public struct HostedVAE: Codable, Sendable, Equatable {
    public var name: String
    public var shortHash: String

    public init(name: String, shortHash: String) {
        self.name = name
        self.shortHash = shortHash
    }
}

/// A LoRA file a worker can merge into its model (`worker --lora-dir`): the name prompts use and
/// a hash of the file, so a LoRA goes only to workers whose copies are identical.
public struct HostedLoRA: Codable, Sendable, Equatable {
    public var name: String
    public var contentHash: String
    /// AUTOMATIC1111's hash of the file (12 digits of the SHA-256 of its tensor data), for the
    /// PNGs' `Lora hashes`; optional.
    public var shortHash: String?

    public init(name: String, contentHash: String, shortHash: String? = nil) {
        self.name = name
        self.contentHash = contentHash
        self.shortHash = shortHash
    }
}

/// READY (worker -> coordinator): the worker is up and says what it can do.
struct WorkerReady: Codable, Sendable, Equatable {
    var name: String
    var models: [HostedModel]
    var threads: Int
    /// Most UNet evaluations it wants in one task.
    var maxBatch: Int
    /// Its engine fingerprint (`EngineFingerprint.description`: oneDNN version, ISA, kernels,
    /// precision): what decides the bits it computes. Optional in protocol version 1.
    var engine: String?
    /// The LoRAs it can merge into its model; absent (or empty) when it serves none.
    var loras: [HostedLoRA]? = nil

    func validate(_ limits: ProtocolLimits) throws {
        try Check.nonEmpty(name, "name")
        for (i, m) in models.enumerated() {
            try Check.nonEmpty(m.name, "models[\(i)].name")
            try Check.nonEmpty(m.contentHash, "models[\(i)].contentHash")
        }
        try Check.range(threads, 1...4096, "threads")
        try Check.range(maxBatch, 1...limits.maxBatchItems, "maxBatch")
        if let engine { try Check.nonEmpty(engine, "engine") }
        for (i, lora) in (loras ?? []).enumerated() {
            try Check.nonEmpty(lora.name, "loras[\(i)].name")
            try Check.nonEmpty(lora.contentHash, "loras[\(i)].contentHash")
        }
    }
}

extension WorkerReady: HeaderOnlyMessage {
    static let messageType = MessageType.ready
}

/// DISCONNECT (either way between worker and coordinator): the sender is leaving.
struct Disconnect: Codable, Sendable, Equatable {
    var reason: String?
    init(reason: String? = nil) { self.reason = reason }
}

extension Disconnect: HeaderOnlyMessage {
    static let messageType = MessageType.disconnect
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

/// HEARTBEAT carries no fields: header `{}`, no payloads.
func heartbeatFrames() -> [[UInt8]] {
    WireFrames(type: .heartbeat, header: HeaderCoding.encode(EmptyHeader())).frames
}

func decodeHeartbeat(_ wire: WireFrames) throws {
    try wire.expectPayloads(0)
    _ = try HeaderCoding.decode(EmptyHeader.self, from: wire.header)
}

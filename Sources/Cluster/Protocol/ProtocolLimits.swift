/// The protocol's signature and version, sent as frame 0 of every message.
public enum ProtocolSignature {
    /// Three bytes naming the protocol.
    public static let magic: [UInt8] = Array("SDC".utf8)
    /// The version this build speaks. A message with another version is refused.
    public static let version: UInt8 = UInt8(ascii: "4")
    /// Frame 0 as sent: "SDC4" (version 4: SDXL's pooled embeddings in RESULT-TEXT and TASK-UNET,
    /// its time ids per UNet item; version 3: TASK-TEXT's prompt syntax and clip skip, LoRA sets
    /// in model names; version 2: RESULT-VAE carries RGB8 pixels).
    public static let frame: [UInt8] = magic + [version]
}

/// Bounds that decoding enforces, so that no peer can make us allocate without limit.
/// The socket's `ZMQ_MAXMSGSIZE` (per frame) should be at least `maxTensorBytes` and
/// `maxBlobBytes`, and is the first line of defence on tcp://.
public struct ProtocolLimits: Sendable, Equatable {
    /// Most frames in one message (signature, type, header and payloads).
    public var maxFrames: Int
    /// Largest header (frame 2) in bytes.
    public var maxHeaderBytes: Int
    /// Largest tensor frame in bytes.
    public var maxTensorBytes: Int
    /// Largest non-tensor payload (SUBMIT's request list, a PNG) in bytes.
    public var maxBlobBytes: Int
    /// Most dimensions of a tensor.
    public var maxTensorRank: Int
    /// Most evaluations in one UNet task.
    public var maxBatchItems: Int
    /// Most images in one SUBMIT.
    public var maxRequestsPerBatch: Int

    public init(maxFrames: Int = 1024, maxHeaderBytes: Int = 64 << 10, maxTensorBytes: Int = 64 << 20,
                maxBlobBytes: Int = 32 << 20, maxTensorRank: Int = 8, maxBatchItems: Int = 256,
                maxRequestsPerBatch: Int = 100_000) {
        self.maxFrames = maxFrames
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTensorBytes = maxTensorBytes
        self.maxBlobBytes = maxBlobBytes
        self.maxTensorRank = maxTensorRank
        self.maxBatchItems = maxBatchItems
        self.maxRequestsPerBatch = maxRequestsPerBatch
    }

    /// The defaults above.
    public static let standard = ProtocolLimits()

    /// What to give `ZMQSocketOption.maxMessageSize` so that libzmq drops anything decoding
    /// would refuse anyway, before it is buffered.
    public var socketMaxMessageSize: Int64 { Int64(max(maxTensorBytes, maxBlobBytes, maxHeaderBytes)) }
}

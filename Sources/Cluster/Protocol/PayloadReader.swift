/// Hands out a message's payload frames in the order its header announced them.
/// The count was checked beforehand (`WireFrames.expectPayloads`), so running out is a bug in
/// the message type, not in the peer.
struct PayloadReader {
    private var frames: ArraySlice<[UInt8]>
    let limits: ProtocolLimits

    init(_ wire: WireFrames, limits: ProtocolLimits) {
        frames = wire.payloads[...]
        self.limits = limits
    }

    private mutating func next(_ field: String) throws -> [UInt8] {
        guard let frame = frames.popFirst() else {
            throw ProtocolError.payloadCountMismatch(expected: -1, found: 0)
        }
        return frame
    }

    /// The next frame as a tensor described by `spec`.
    mutating func tensor(_ spec: TensorSpec, field: String) throws -> WireTensor {
        try WireTensor.decode(try next(field), spec: spec, field: field, limits: limits)
    }

    /// The next frame as raw bytes whose size the header announced.
    mutating func blob(bytes expected: Int, field: String) throws -> [UInt8] {
        let frame = try next(field)
        guard frame.count <= limits.maxBlobBytes else {
            throw ProtocolError.badBlob(field: field, reason: "\(frame.count) bytes exceed the limit of \(limits.maxBlobBytes)")
        }
        guard frame.count == expected else {
            throw ProtocolError.badBlob(field: field, reason: "header announces \(expected) bytes but the frame has \(frame.count)")
        }
        return frame
    }
}

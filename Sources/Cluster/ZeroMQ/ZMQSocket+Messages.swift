import CZeroMQ

/// Sending and receiving frames. A message is a list of frames (`[[UInt8]]`); libzmq delivers
/// all frames of a message or none.
extension ZMQSocket {
    /// Sends one frame straight from memory the caller owns: libzmq copies it once into its
    /// message, with no intermediate array. Use this for large tensor frames.
    func send(bytes: UnsafeRawBufferPointer, more: Bool, dontWait: Bool = false) throws {
        let h = try live("zmq_send")
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        while true {
            let rc = zmq_send(h, bytes.baseAddress, bytes.count, flags)
            if rc != -1 { return }
            let error = ZMQError.last("zmq_send")
            // A signal during a blocking send: retry; libzmq has not queued the frame.
            if error == .interrupted && !dontWait { continue }
            throw error
        }
    }

    /// Sends one frame.
    func send(frame: [UInt8], more: Bool = false, dontWait: Bool = false) throws {
        try frame.withUnsafeBytes { try send(bytes: $0, more: more, dontWait: dontWait) }
    }

    /// Sends all frames as one message. With `dontWait`, `.again` can only come from the first
    /// frame (later frames of a message are always accepted once the first one is).
    func send(frames: [[UInt8]], dontWait: Bool = false) throws {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (i, frame) in frames.enumerated() {
            try send(frame: frame, more: i < frames.count - 1, dontWait: dontWait)
        }
    }

    /// Receives one frame and whether more frames of the same message follow.
    func receiveFrame(dontWait: Bool = false) throws -> (bytes: [UInt8], more: Bool) {
        let frame = try receiveFrameWithUserId(dontWait: dontWait)
        return (frame.bytes, frame.more)
    }

    /// Receives one frame, with the `User-Id` its connection's ZAP handler gave the peer (nil
    /// on a connection no handler authenticated).
    private func receiveFrameWithUserId(dontWait: Bool) throws -> (bytes: [UInt8], more: Bool, userId: String?) {
        let h = try live("zmq_msg_recv")
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while zmq_msg_recv(&message, h, dontWait ? ZMQ_DONTWAIT : 0) == -1 {
            let error = ZMQError.last("zmq_msg_recv")
            if error == .interrupted && !dontWait { continue }
            throw error
        }
        let size = zmq_msg_size(&message)
        // The one copy: out of libzmq's buffer into a Swift array.
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            if size > 0, let data = zmq_msg_data(&message) {
                buffer.baseAddress!.update(from: data.assumingMemoryBound(to: UInt8.self), count: size)
            }
            count = size
        }
        let userId = zmq_msg_gets(&message, "User-Id").map { String(cString: $0) }
        return (bytes, zmq_msg_more(&message) != 0, userId)
    }

    /// Receives a whole message. With `dontWait`, throws `.again` when none is waiting.
    /// `maxFrames` bounds memory against a peer that sends endless frames: the rest of such a
    /// message is read and thrown away, then `.failed(EMSGSIZE)` is thrown.
    func receiveMessage(dontWait: Bool = false, maxFrames: Int = 4096) throws -> [[UInt8]] {
        try receiveMessageWithUserId(dontWait: dontWait, maxFrames: maxFrames).frames
    }

    /// `receiveMessage`, with the sender's ZAP `User-Id` (what a CURVE server's handler
    /// admitted it as; nil without one). It comes with every frame; the last one's is kept.
    func receiveMessageWithUserId(dontWait: Bool = false, maxFrames: Int = 4096) throws -> (frames: [[UInt8]], userId: String?) {
        var frames: [[UInt8]] = []
        var part = try receiveFrameWithUserId(dontWait: dontWait)
        frames.append(part.bytes)
        var userId = part.userId
        var dropped = 0
        while part.more {
            // Later frames of a message are already here: never block on them.
            part = try receiveFrameWithUserId(dontWait: false)
            userId = part.userId ?? userId
            if frames.count < maxFrames { frames.append(part.bytes) } else { dropped += 1 }
        }
        if dropped > 0 {
            throw ZMQError.failed(operation: "receiveMessage", code: EMSGSIZE,
                                  message: "message had \(frames.count + dropped) frames, more than the \(maxFrames) allowed; dropped")
        }
        return (frames, userId)
    }
}

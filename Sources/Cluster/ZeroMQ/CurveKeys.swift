import CZeroMQ

/// A 32-byte CURVE (Curve25519) key, or secret. Its text form is Z85 (40 characters).
struct CurveKey: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The raw 32 key bytes.
    let bytes: [UInt8]

    /// Wraps 32 raw bytes.
    init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw ZMQError.invalidKey("a CURVE key has 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Parses the 40-character Z85 text form (what `zmq_curve_keypair` and key files hold).
    init(z85 text: String) throws {
        guard text.utf8.count == 40 else {
            throw ZMQError.invalidKey("a Z85 CURVE key has 40 characters, got \(text.utf8.count)")
        }
        try self.init(bytes: Z85.decode(text))
    }

    /// The 40-character Z85 text form.
    var z85: String { (try? Z85.encode(bytes)) ?? "" }

    /// Prints only a prefix so that secret keys do not end up whole in logs.
    var description: String { "CurveKey(\(z85.prefix(8))...)" }
}

/// A CURVE long-term key pair.
struct CurveKeyPair: Sendable, Equatable {
    let publicKey: CurveKey
    let secretKey: CurveKey

    /// A fresh random key pair from libzmq (`zmq_curve_keypair`).
    static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        try zmqCheck(zmq_curve_keypair(&pub, &sec), "zmq_curve_keypair (is libzmq built with CURVE?)")
        return CurveKeyPair(publicKey: try CurveKey(z85: stringFromCBuffer(pub)),
                            secretKey: try CurveKey(z85: stringFromCBuffer(sec)))
    }

    /// The key belonging to a secret key (`zmq_curve_public`).
    static func derive(from secretKey: CurveKey) throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        let secText = Array(secretKey.z85.utf8CString)
        try zmqCheck(zmq_curve_public(&pub, secText), "zmq_curve_public")
        return CurveKeyPair(publicKey: try CurveKey(z85: stringFromCBuffer(pub)), secretKey: secretKey)
    }
}

/// ZeroMQ's Z85 text encoding (RFC 32/Z85): 4 bytes become 5 printable characters.
enum Z85 {
    /// Encodes bytes whose count is a multiple of 4.
    static func encode(_ bytes: [UInt8]) throws -> String {
        guard bytes.count % 4 == 0 else {
            throw ZMQError.invalidKey("Z85 encodes a multiple of 4 bytes, got \(bytes.count)")
        }
        var out = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&out, bytes, bytes.count) != nil else {
            throw ZMQError.invalidKey("zmq_z85_encode refused \(bytes.count) bytes")
        }
        return stringFromCBuffer(out)
    }

    /// Decodes text whose length is a multiple of 5 and holds only Z85 characters.
    static func decode(_ text: String) throws -> [UInt8] {
        let chars = Array(text.utf8CString)  // NUL-terminated, as zmq_z85_decode wants
        let length = chars.count - 1
        guard length % 5 == 0 else {
            throw ZMQError.invalidKey("Z85 text length must be a multiple of 5, got \(length)")
        }
        var out = [UInt8](repeating: 0, count: length / 5 * 4)
        guard zmq_z85_decode(&out, chars) != nil else {
            throw ZMQError.invalidKey("not valid Z85 text")
        }
        return out
    }
}

/// What a worker or client needs to reach a coordinator that has CURVE on: its own key pair
/// (whose public half is in the coordinator's allow-list) and the coordinator's public key.
public struct CurveCredentials: Sendable {
    let keys: CurveKeyPair
    let serverKey: CurveKey

    /// - Parameters:
    ///   - keyFile: this peer's secret key file (`sdcluster keygen NAME` writes `NAME.key`).
    ///   - coordinatorKey: the coordinator's public key file (`.pub`) or its 40-character Z85 text.
    public init(keyFile: String, coordinatorKey: String) throws {
        keys = try KeyFiles.readSecret(keyFile)
        serverKey = try KeyFiles.readPublic(coordinatorKey)
    }

    init(keys: CurveKeyPair, serverKey: CurveKey) {
        self.keys = keys
        self.serverKey = serverKey
    }

    /// Makes `socket` a CURVE client of the coordinator (before it connects).
    func apply(to socket: ZMQSocket) throws {
        try socket.set(.curveServerKey(serverKey))
        try socket.set(.curvePublicKey(keys.publicKey))
        try socket.set(.curveSecretKey(keys.secretKey))
    }

    /// This peer's public key, as the coordinator's allow-list holds it.
    public var publicKey: String { keys.publicKey.z85 }
}

/// The ZeroMQ authentication handler (ZAP, RFC 27) of a context: libzmq asks it about every
/// CURVE handshake on a socket with a ZAP domain, and admits the peer only on status 200.
/// Without a handler libzmq admits every client that knows the server's public key, so this
/// is what turns encryption into access control. Served from the coordinator's own loop.
final class ZAPHandler {
    static let endpoint = "inproc://zeromq.zap.01"

    /// One handshake to decide.
    struct Request: Equatable {
        let domain: String
        let address: String
        let mechanism: String
        /// The client's long-term public key (CURVE only).
        let clientKey: CurveKey?
    }

    enum Verdict: Equatable {
        /// Admit, with the `User-Id` the peer's messages will carry.
        case allow(userId: String)
        case deny(reason: String)
    }

    let socket: ZMQSocket

    /// Binds the handler's endpoint in `context` (one handler per context).
    init(context: ZMQContext) throws {
        socket = try context.socket(.rep)
        try socket.bind(Self.endpoint)
    }

    /// Answers every request waiting now.
    func serve(_ decide: (Request) -> Verdict) {
        while let frames = try? socket.receiveMessage(dontWait: true) {
            let reply: [[UInt8]]
            if let (requestId, request) = Self.parse(frames) {
                switch decide(request) {
                case .allow(let userId):
                    reply = Self.reply(requestId, status: "200", text: "OK", userId: userId)
                case .deny(let reason):
                    reply = Self.reply(requestId, status: "400", text: String(reason.prefix(200)), userId: "")
                }
            } else {
                // A REP socket must answer every request; a malformed one is refused.
                let requestId = frames.count > 1 ? frames[1] : []
                reply = [Array("1.0".utf8), requestId, Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
            }
            try? socket.send(frames: reply)
        }
    }

    /// Frames: version, request id, domain, address, routing id, mechanism, credentials...
    static func parse(_ frames: [[UInt8]]) -> ([UInt8], Request)? {
        guard frames.count >= 6, String(decoding: frames[0], as: UTF8.self) == "1.0" else { return nil }
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let key = mechanism == "CURVE" && frames.count >= 7 ? try? CurveKey(bytes: frames[6]) : nil
        return (frames[1], Request(domain: String(decoding: frames[2], as: UTF8.self),
                                   address: String(decoding: frames[3], as: UTF8.self),
                                   mechanism: mechanism, clientKey: key))
    }

    /// Frames: version, request id, status code, status text, user id, metadata.
    static func reply(_ requestId: [UInt8], status: String, text: String, userId: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestId, Array(status.utf8), Array(text.utf8), Array(userId.utf8), []]
    }

    func close() { socket.close() }
}

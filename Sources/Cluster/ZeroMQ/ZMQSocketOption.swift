import CZeroMQ

/// A socket option with its value, typed so that a wrong unit or size cannot be passed.
/// Durations are in milliseconds, as libzmq takes them.
enum ZMQSocketOption: Sendable {
    /// How long unsent messages are kept after close (0 = drop at once, -1 = forever).
    case linger(milliseconds: Int32)
    /// Largest inbound message part accepted on connection-oriented transports (tcp, ipc);
    /// a peer sending a larger one is disconnected. -1 = no limit. inproc:// is not checked.
    case maxMessageSize(bytes: Int64)
    /// Outbound queue limit in messages (0 = unlimited).
    case sendHighWaterMark(Int32)
    /// Inbound queue limit in messages (0 = unlimited).
    case receiveHighWaterMark(Int32)
    /// ROUTER only: sending to an unknown identity fails with `.hostUnreachable` instead of
    /// being dropped silently.
    case routerMandatory(Bool)
    /// ZMTP heartbeat: send a PING every so often on each connection (0 = off).
    case heartbeatInterval(milliseconds: Int32)
    /// ZMTP heartbeat: ask the peer to drop us after this long without traffic (rounded to
    /// deciseconds by libzmq, at most 6553599 ms).
    case heartbeatTimeToLive(milliseconds: Int32)
    /// ZMTP heartbeat: drop the connection when no traffic arrives for this long after a PING.
    case heartbeatTimeout(milliseconds: Int32)
    /// First reconnect delay after a connection is lost.
    case reconnectInterval(milliseconds: Int32)
    /// Upper bound of the exponential reconnect back-off (0 = no back-off).
    case reconnectIntervalMax(milliseconds: Int32)
    /// A blocking send gives up with `.again` after this long (-1 = wait forever).
    case sendTimeout(milliseconds: Int32)
    /// A blocking receive gives up with `.again` after this long (-1 = wait forever).
    case receiveTimeout(milliseconds: Int32)
    /// The identity a DEALER shows to the ROUTER it connects to (1...255 bytes, not starting with 0).
    case routingId([UInt8])
    /// Queue messages only to completed connections (no queueing for peers that are not there yet).
    case immediate(Bool)
    /// This socket is a CURVE server (needs `curveSecretKey`).
    case curveServer(Bool)
    /// This socket's long-term CURVE key.
    case curvePublicKey(CurveKey)
    /// This socket's long-term CURVE secret key.
    case curveSecretKey(CurveKey)
    /// The server's CURVE key (set on a client before connecting).
    case curveServerKey(CurveKey)
    /// The ZAP domain a server socket asks its authentication handler about (RFC 27).
    case zapDomain(String)

    var name: Int32 {
        switch self {
        case .linger: return ZMQ_LINGER
        case .maxMessageSize: return ZMQ_MAXMSGSIZE
        case .sendHighWaterMark: return ZMQ_SNDHWM
        case .receiveHighWaterMark: return ZMQ_RCVHWM
        case .routerMandatory: return ZMQ_ROUTER_MANDATORY
        case .heartbeatInterval: return ZMQ_HEARTBEAT_IVL
        case .heartbeatTimeToLive: return ZMQ_HEARTBEAT_TTL
        case .heartbeatTimeout: return ZMQ_HEARTBEAT_TIMEOUT
        case .reconnectInterval: return ZMQ_RECONNECT_IVL
        case .reconnectIntervalMax: return ZMQ_RECONNECT_IVL_MAX
        case .sendTimeout: return ZMQ_SNDTIMEO
        case .receiveTimeout: return ZMQ_RCVTIMEO
        case .routingId: return ZMQ_ROUTING_ID
        case .immediate: return ZMQ_IMMEDIATE
        case .curveServer: return ZMQ_CURVE_SERVER
        case .curvePublicKey: return ZMQ_CURVE_PUBLICKEY
        case .curveSecretKey: return ZMQ_CURVE_SECRETKEY
        case .curveServerKey: return ZMQ_CURVE_SERVERKEY
        case .zapDomain: return ZMQ_ZAP_DOMAIN
        }
    }

    /// The option's value as the bytes `zmq_setsockopt` expects (int, int64 or binary).
    var valueBytes: [UInt8] {
        switch self {
        case .linger(let v), .sendHighWaterMark(let v), .receiveHighWaterMark(let v),
             .heartbeatInterval(let v), .heartbeatTimeToLive(let v), .heartbeatTimeout(let v),
             .reconnectInterval(let v), .reconnectIntervalMax(let v), .sendTimeout(let v),
             .receiveTimeout(let v):
            return withUnsafeBytes(of: v) { Array($0) }
        case .maxMessageSize(let v):
            return withUnsafeBytes(of: v) { Array($0) }
        case .routerMandatory(let b), .immediate(let b), .curveServer(let b):
            let v: Int32 = b ? 1 : 0
            return withUnsafeBytes(of: v) { Array($0) }
        case .routingId(let bytes):
            return bytes
        case .curvePublicKey(let k), .curveSecretKey(let k), .curveServerKey(let k):
            return k.bytes
        case .zapDomain(let domain):
            return Array(domain.utf8)
        }
    }
}

/// Names of options that can be read back with `ZMQSocket.int32Option` / `int64Option`.
enum ZMQReadableOption: Int32, Sendable {
    case linger = 17, reconnectInterval = 18, reconnectIntervalMax = 21, maxMessageSize = 22
    case sendHighWaterMark = 23, receiveHighWaterMark = 24, receiveTimeout = 27, sendTimeout = 28
    case mechanism = 43, curveServer = 47
    case heartbeatInterval = 75, heartbeatTimeToLive = 76, heartbeatTimeout = 77
}

extension ZMQMonitorEvent {
    /// What a failed handshake means for the person running a worker or client.
    /// - Parameters:
    ///   - curve: whether this side was given keys.
    ///   - role: the coordinator socket it connects to.
    func explanation(curve: Bool, role: SecurityDomain) -> String {
        let lists = role == .workers ? "--authorized-workers" : "--authorized-clients or --admin-keys"
        switch kind {
        case .handshakeFailedAuthentication:
            return "the coordinator refused this \(role.role)'s key (ZAP status \(value)): its public key is not in the coordinator's \(lists); add it there and send the coordinator SIGHUP"
        case .handshakeFailedProtocol where curve:
            return "the handshake failed: the coordinator does not speak CURVE (started without --curve-secret?)"
        case .handshakeFailedProtocol:
            return "the handshake failed: the coordinator requires CURVE; give --key (this \(role.role)'s secret key file) and --coordinator-key (its public key)"
        default:
            // No reason given: the connection closed mid-handshake, which a restarting
            // coordinator or a proxy with nothing behind it does too (hence retried for a while).
            return curve ? "the connection closed during the CURVE handshake, again and again: is --coordinator-key the coordinator's public key?"
                         : "the connection closed during the handshake, again and again: is something else listening there, or does the coordinator require CURVE (--key and --coordinator-key)?"
        }
    }
}

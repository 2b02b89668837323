import Foundation
import Logging

/// CURVE access control: the ZAP decisions, who sent a message, and key reloads.
extension Coordinator {
    /// Answers the handshakes waiting at the ZAP handler: a CURVE key in the socket's allow-list
    /// is admitted with its key as `User-Id`; anything else is refused and logged.
    func authenticate() {
        guard let authenticator, let security else { return }
        authenticator.serve { request in
            guard let domain = SecurityDomain(rawValue: request.domain) else {
                return .deny(reason: "unknown ZAP domain")
            }
            guard request.mechanism == "CURVE", let key = request.clientKey else {
                logRefusal("a \(request.mechanism) connection from \(request.address) on the \(domain.role) socket (CURVE is required)",
                           key: "\(domain.rawValue) \(request.address) \(request.mechanism)")
                return .deny(reason: "CURVE required")
            }
            guard let peer = security.peer(key, on: domain) else {
                logRefusal("key \(key.z85) from \(request.address): not in the \(domain.role) allow-list",
                           key: "\(domain.rawValue) \(key.z85)")
                return .deny(reason: "key not authorized")
            }
            log.debug("admitted \(peer.role.rawValue) '\(peer.name)' from \(request.address)")
            return .allow(userId: key.z85)
        }
    }

    /// The sender of a message with CURVE on, as the lists stand now; nil when it is not (or no
    /// longer) admitted. On an open cluster every sender is `.open`.
    func sender(userId: String?, on domain: SecurityDomain) -> Sender? {
        guard let security else { return .open }
        guard let peer = security.peer(userId: userId, on: domain) else {
            logRefusal("a message from a key no longer in the \(domain.role) allow-list (\(userId ?? "none"))",
                       key: "\(domain.rawValue) \(userId ?? "")")
            return nil
        }
        return .peer(peer)
    }

    /// Re-reads the allow-lists (SIGHUP). Workers whose keys were removed are dropped now.
    func reloadKeys() {
        guard var updated = security else {
            log.info("SIGHUP: no keys to reload (CURVE is off)")
            return
        }
        do {
            try updated.reload()
        } catch {
            log.error("SIGHUP: keys not reloaded, the old allow-lists stay in force: \(error)")
            return
        }
        security = updated
        refusalsLogged.removeAll()
        log.notice("SIGHUP: keys reloaded: \(updated.summary)")
        for worker in Array(workers.values) where worker.key.map({ updated.peer($0, on: .workers) == nil }) ?? false {
            removeWorker(worker, reason: "its key was removed from the worker allow-list")
        }
    }

    /// Logs a refusal, at most once a minute for the same peer.
    func logRefusal(_ text: String, key: String) {
        let time = now()
        if let last = refusalsLogged[key], time - last < 60 { return }
        refusalsLogged[key] = time
        log.warning("refused \(text)")
    }
}

/// Who sent a client or worker message.
enum Sender: Equatable {
    /// An open cluster (no CURVE): anyone, with every right.
    case open
    case peer(Peer)

    /// Whether it may see and act on a batch with this owner.
    func mayAccess(owner: String?) -> Bool {
        switch self {
        case .open: return true
        case .peer(let peer): return peer.role == .admin || peer.owner == owner
        }
    }

    /// The owner its batches get (nil on an open cluster).
    var owner: String? {
        if case .peer(let peer) = self { return peer.owner }
        return nil
    }

    var key: CurveKey? {
        if case .peer(let peer) = self { return peer.key }
        return nil
    }
}

extension SecurityDomain {
    var role: String { self == .workers ? "worker" : "client" }
}

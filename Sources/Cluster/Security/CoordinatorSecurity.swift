import Foundation

/// What a coordinator with CURVE on knows: its own key pair and, per role, the public keys it
/// admits. Workers connect only with a key in `workers`; clients with a key in `clients` (they
/// see and act on their own batches) or `admins` (they see and cancel every batch).
public struct CoordinatorSecurity: Sendable {
    let serverKeys: CurveKeyPair
    let workersSource: String
    let clientsSource: String
    let adminsSource: String?
    private(set) var workers: AllowList
    private(set) var clients: AllowList
    private(set) var admins: AllowList

    /// Reads the secret key file and the allow-lists (each a folder of `.pub` files or a file of keys).
    public init(secretKeyFile: String, authorizedWorkers: String, authorizedClients: String, admins: String? = nil) throws {
        serverKeys = try KeyFiles.readSecret(secretKeyFile)
        workersSource = authorizedWorkers
        clientsSource = authorizedClients
        adminsSource = admins
        workers = try AllowList.load(authorizedWorkers)
        clients = try AllowList.load(authorizedClients)
        self.admins = try admins.map(AllowList.load) ?? AllowList(source: "(none)", names: [:])
    }

    /// Re-reads every allow-list (SIGHUP). On an error nothing changes: a typo in one file must
    /// not lock everyone out.
    public mutating func reload() throws {
        let workers = try AllowList.load(workersSource)
        let clients = try AllowList.load(clientsSource)
        let admins = try adminsSource.map(AllowList.load) ?? AllowList(source: "(none)", names: [:])
        (self.workers, self.clients, self.admins) = (workers, clients, admins)
    }

    /// The coordinator's public key (Z85): what its own clients, the HTTP gateway among them, need
    /// to connect (`CurveCredentials(keyFile:coordinatorKey:)`).
    public var publicKey: String { serverKeys.publicKey.z85 }

    /// One line for the log: how many keys each role admits.
    public var summary: String {
        "\(workers.names.count) worker key(s) from \(workersSource), \(clients.names.count) client key(s) from \(clientsSource)"
            + (adminsSource.map { ", \(admins.names.count) admin key(s) from \($0)" } ?? "")
    }

    /// Who a key is on a socket of the given domain now (nil: not admitted).
    func peer(_ key: CurveKey, on domain: SecurityDomain) -> Peer? {
        switch domain {
        case .workers:
            return workers.names[key].map { Peer(key: key, name: $0, role: .worker) }
        case .clients:
            if let name = admins.names[key] { return Peer(key: key, name: name, role: .admin) }
            return clients.names[key].map { Peer(key: key, name: $0, role: .client) }
        }
    }

    /// Who sent a message, from the `User-Id` the ZAP handler gave its connection (the key in
    /// Z85). Checked against the lists as they are now, so a key removed by a reload loses its
    /// access at its next message, not only at its next connection.
    func peer(userId: String?, on domain: SecurityDomain) -> Peer? {
        guard let userId, let key = try? CurveKey(z85: userId) else { return nil }
        return peer(key, on: domain)
    }
}

/// The two server sockets' ZAP domains.
enum SecurityDomain: String, Sendable {
    case workers = "sdcluster-workers"
    case clients = "sdcluster-clients"
}

/// An admitted peer.
struct Peer: Equatable, Sendable {
    enum Role: String, Sendable { case worker, client, admin }
    let key: CurveKey
    let name: String
    let role: Role

    /// What the store records as a batch's owner: the client's public key.
    var owner: String { key.z85 }
}

import ArgumentParser
import Cluster

/// `sdcluster keygen`: a CURVE key pair for a coordinator, worker or client.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (public).",
        discussion: """
            The coordinator uses its .key with --curve-secret and hands its .pub to workers and \
            clients (--coordinator-key). Each worker and client uses its own .key with --key; \
            its .pub goes into the coordinator's --authorized-workers or --authorized-clients \
            folder (then send the coordinator SIGHUP). See docs/security.md.
            Example: sdcluster keygen keys/coordinator
            """)

    @Argument(help: ArgumentHelp("Path and name of the pair, without extension (e.g. keys/worker-a).", valueName: "NAME"))
    var name: String

    @Flag(help: "Replace existing files (peers holding the old public key will be refused).")
    var force = false

    func run() throws {
        let label = String(name.split(separator: "/").last ?? Substring(name))
        let publicKey = try KeyFiles.generate(base: name, name: label, overwrite: force)
        print("wrote \(name).key (secret, mode 0600) and \(name).pub")
        print("public key: \(publicKey)")
    }
}

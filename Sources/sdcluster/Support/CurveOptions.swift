import ArgumentParser
import Cluster

/// `--key` and `--coordinator-key`, for the commands that connect to a coordinator with CURVE on.
struct CurveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This peer's CURVE secret key file (from `sdcluster keygen NAME`: NAME.key). Needs --coordinator-key.", valueName: "FILE"))
    var key: String?

    @Option(help: ArgumentHelp("The coordinator's CURVE public key: its .pub file or the 40-character key.", valueName: "FILE|KEY"))
    var coordinatorKey: String?

    func validate() throws {
        guard (key == nil) == (coordinatorKey == nil) else {
            throw ValidationError("--key and --coordinator-key go together: CURVE needs this peer's secret key and the coordinator's public key")
        }
    }

    /// The credentials, or nil when CURVE is off.
    func credentials() throws -> CurveCredentials? {
        guard let key, let coordinatorKey else { return nil }
        return try CurveCredentials(keyFile: key, coordinatorKey: coordinatorKey)
    }
}

import ArgumentParser
import Cluster
import Logging

/// `--log-level` of the long-running commands (`coordinator`, `worker`).
struct LoggingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Least severe log records written to standard error: trace | debug | info | notice | warning | error | critical. debug adds every task sent and answered.",
                               valueName: "LEVEL"))
    var logLevel: Logger.Level = .info

    /// Sets up the process's logging; before any `Logger` is made.
    func bootstrap() {
        ClusterLogging.bootstrap(level: logLevel)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

import ArgumentParser
import Cluster
import Foundation

/// `sdcluster coordinator`: the cluster's scheduler and job store.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the cluster's coordinator: job store, sampling state machines, placement, PNG output.",
        discussion: """
            Workers connect to --workers, clients (submit, status, cancel) to --clients. Batches \
            are on disk (--store) before they are accepted; after a restart, unfinished images \
            resume. Finished images go to OUTPUT/<batch>/<index>-<seed>.png with a manifest.jsonl.
            Example: sdcluster coordinator --store state/ --output results/
            """)

    @Option(help: ArgumentHelp("Endpoint workers connect to.", valueName: "ENDPOINT"))
    var workers = "tcp://*:7431"

    @Option(help: ArgumentHelp("Endpoint clients connect to.", valueName: "ENDPOINT"))
    var clients = "tcp://*:7430"

    @Option(help: ArgumentHelp("Folder of the job store.", valueName: "DIR"))
    var store = "sdcluster-store"

    @Option(help: ArgumentHelp("Folder for finished images (one subfolder per batch).", valueName: "DIR"))
    var output = "sdcluster-output"

    @Option(help: "Placement of the guided stage's two passes: auto | split | pack.")
    var placement: PlacementPolicy = .auto

    @Option(help: ArgumentHelp("Model for requests that name none (default: the first model, by name, of the connected workers).", valueName: "NAME"))
    var defaultModel: String?

    @Option(help: ArgumentHelp("Heartbeat interval in seconds; a worker silent for 3 intervals is given up on.", valueName: "S"))
    var heartbeat: Double = 1

    @Option(help: ArgumentHelp("Smallest task deadline in seconds (longer ones follow each worker's measured speed).", valueName: "S"))
    var minimumDeadline: Double = 60

    @Option(help: ArgumentHelp("Seconds an image waits for a worker of its engine class (fingerprint) to come back when none is left, before it restarts from its first step on another class.", valueName: "S"))
    var classGrace: Double = 30

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard heartbeat > 0, minimumDeadline > 0 else { throw ValidationError("--heartbeat and --minimum-deadline must be > 0 seconds") }
        guard classGrace >= 0, classGrace.isFinite else { throw ValidationError("--class-grace must be >= 0 seconds") }
    }

    func run() throws {
        logging.bootstrap()
        let options = CoordinatorOptions(workersEndpoint: workers, clientsEndpoint: clients, storeDirectory: store,
                                         outputDirectory: output, placement: placement, defaultModel: defaultModel,
                                         heartbeatInterval: heartbeat, minimumDeadline: minimumDeadline,
                                         classGrace: classGrace)
        let context = try ZMQContext()
        let stop = StopFlag()
        stop.raiseOnTerminationSignals()
        let coordinator = try Coordinator(options: options, context: context)
        print("workers \(coordinator.workersEndpoint) clients \(coordinator.clientsEndpoint)")
        fflush(stdout)
        try coordinator.run(until: stop)
    }
}

extension PlacementPolicy: ExpressibleByArgument {}

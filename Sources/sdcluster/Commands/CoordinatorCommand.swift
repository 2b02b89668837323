import ArgumentParser
import Cluster
import Foundation
import StableDiffusion

/// `sdcluster coordinator`: the cluster's scheduler and job store.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the cluster's coordinator: job store, sampling state machines, placement, PNG output.",
        discussion: """
            Workers connect to --workers, clients (submit, status, cancel) to --clients. Batches \
            are on disk (--store) before they are accepted; after a restart, unfinished images \
            resume. Finished images go to OUTPUT/<batch>/<index>-<seed>.png with a manifest.jsonl.
            Without --curve-secret the cluster is open (no encryption, no access control) and \
            listens on 127.0.0.1 only unless --workers/--clients say otherwise. With it, both \
            ports use CURVE and admit only the keys in the allow-lists; SIGHUP re-reads them.
            Example: sdcluster coordinator --store state/ --output results/
            Example: sdcluster coordinator --curve-secret keys/coordinator.key \
            --authorized-workers keys/workers --authorized-clients keys/clients
            """)

    @Option(help: ArgumentHelp("Endpoint workers connect to (default: tcp://*:7431 with --curve-secret, else tcp://127.0.0.1:7431).", valueName: "ENDPOINT"))
    var workers: String?

    @Option(help: ArgumentHelp("Endpoint clients connect to (default: tcp://*:7430 with --curve-secret, else tcp://127.0.0.1:7430).", valueName: "ENDPOINT"))
    var clients: String?

    @Option(help: ArgumentHelp("The coordinator's CURVE secret key file (`sdcluster keygen`): encrypts both ports and turns on the allow-lists below.", valueName: "FILE"))
    var curveSecret: String?

    @Option(help: ArgumentHelp("Public keys of the workers allowed in: a folder of .pub files or a file with a key a line (re-read on SIGHUP).", valueName: "DIR|FILE"))
    var authorizedWorkers: String?

    @Option(help: ArgumentHelp("Public keys of the clients allowed in; each sees and cancels only its own batches (re-read on SIGHUP).", valueName: "DIR|FILE"))
    var authorizedClients: String?

    @Option(help: ArgumentHelp("Public keys of admin clients, who see and cancel every batch (re-read on SIGHUP).", valueName: "DIR|FILE"))
    var adminKeys: String?

    @Option(help: ArgumentHelp("Folder of the job store.", valueName: "DIR"))
    var store = "sdcluster-store"

    @Option(help: ArgumentHelp("Folder for finished images (one subfolder per batch).", valueName: "DIR"))
    var output = "sdcluster-output"

    @Option(help: "Placement of the guided stage's two passes: auto | split | pack.")
    var placement: PlacementPolicy = .auto

    @Option(help: ArgumentHelp("Model for requests that name none (default: the first model, by name, of the connected workers).", valueName: "NAME"))
    var defaultModel: String?

    @Option(help: ArgumentHelp("Heartbeat interval in seconds.", valueName: "S"))
    var heartbeat: Double = 1

    @Option(help: ArgumentHelp("Heartbeat intervals a worker may stay silent (any message counts) before it is given up on; raise it on lossy links.", valueName: "N"))
    var liveness = 10

    @Option(help: ArgumentHelp("Smallest task deadline in seconds (longer ones follow each worker's measured speed).", valueName: "S"))
    var minimumDeadline: Double = 60

    @Option(help: ArgumentHelp("Most images one submitted batch may hold.", valueName: "N"))
    var maxBatchImages = 10_000

    @Option(help: ArgumentHelp("Most unfinished images one client (one key; everyone together without CURVE) may have queued.", valueName: "N"))
    var maxQueuedPerClient = 100_000

    @Option(help: ArgumentHelp("Most sampling steps a request may ask for.", valueName: "N"))
    var maxSteps = RequestLimits.coordinator.maxSteps

    @Option(help: ArgumentHelp("Most pixels (width x height) of one image; 4194304 is 2048x2048.", valueName: "N"))
    var maxPixels = RequestLimits.coordinator.maxPixels

    @Option(help: ArgumentHelp("Most bytes of UTF-8 in a prompt or negative prompt.", valueName: "N"))
    var maxPromptBytes = RequestLimits.coordinator.maxTextBytes

    @Option(help: ArgumentHelp("Largest request list one SUBMIT may send, in MiB.", valueName: "MB"))
    var maxMessageMb = 32

    @Option(help: ArgumentHelp("Seconds an image waits for a worker of its engine class (fingerprint) to come back when none is left, before it restarts from its first step on another class.", valueName: "S"))
    var classGrace: Double = 30

    @Option(help: ArgumentHelp("Tasks a worker may have at once (run one after another): more hide a slow link's round trips; 1 sends a task only to an idle worker.", valueName: "N"))
    var tasksInFlight = 3

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard heartbeat > 0, minimumDeadline > 0 else { throw ValidationError("--heartbeat and --minimum-deadline must be > 0 seconds") }
        guard (2...1000).contains(liveness) else { throw ValidationError("--liveness must be 2...1000 heartbeat intervals, not \(liveness)") }
        let standard = RequestLimits.standard
        guard (1...standard.maxSteps).contains(maxSteps) else { throw ValidationError("--max-steps must be 1...\(standard.maxSteps), not \(maxSteps)") }
        guard (64 * 64...standard.maxPixels).contains(maxPixels) else {
            throw ValidationError("--max-pixels must be \(64 * 64)...\(standard.maxPixels) (what the engine can run), not \(maxPixels)")
        }
        guard (1...standard.maxTextBytes).contains(maxPromptBytes) else {
            throw ValidationError("--max-prompt-bytes must be 1...\(standard.maxTextBytes), not \(maxPromptBytes)")
        }
        guard maxBatchImages >= 1, maxQueuedPerClient >= 1 else { throw ValidationError("--max-batch-images and --max-queued-per-client must be at least 1") }
        guard (1...1024).contains(maxMessageMb) else { throw ValidationError("--max-message-mb must be 1...1024, not \(maxMessageMb)") }
        if curveSecret == nil, authorizedWorkers != nil || authorizedClients != nil || adminKeys != nil {
            throw ValidationError("--authorized-workers, --authorized-clients and --admin-keys need --curve-secret (allow-lists work only with CURVE)")
        }
        if curveSecret != nil, authorizedWorkers == nil || authorizedClients == nil {
            throw ValidationError("with --curve-secret give --authorized-workers and --authorized-clients too (each a folder of .pub files or a file of keys; they may start empty): encryption alone admits anyone who knows the coordinator's public key")
        }
        guard (1...8).contains(tasksInFlight) else { throw ValidationError("--tasks-in-flight must be 1...8, not \(tasksInFlight)") }
        guard classGrace >= 0, classGrace.isFinite else { throw ValidationError("--class-grace must be >= 0 seconds") }
    }

    func run() throws {
        logging.bootstrap()
        let security = try curveSecret.map {
            try CoordinatorSecurity(secretKeyFile: $0, authorizedWorkers: authorizedWorkers ?? "", authorizedClients: authorizedClients ?? "",
                                    admins: adminKeys)
        }
        // Without CURVE anyone who reaches the ports can use the cluster: listen on this machine
        // only unless the endpoints say otherwise.
        let host = security == nil ? "127.0.0.1" : "*"
        let options = CoordinatorOptions(workersEndpoint: workers ?? "tcp://\(host):7431", clientsEndpoint: clients ?? "tcp://\(host):7430",
                                         storeDirectory: store, outputDirectory: output, placement: placement,
                                         defaultModel: defaultModel, heartbeatInterval: heartbeat, liveness: liveness, minimumDeadline: minimumDeadline,
                                         security: security,
                                         requestLimits: RequestLimits(maxSteps: maxSteps, maxPixels: maxPixels, maxTextBytes: maxPromptBytes),
                                         maxImagesPerBatch: maxBatchImages, maxQueuedImagesPerClient: maxQueuedPerClient,
                                         maxClientMessageBytes: maxMessageMb << 20, classGrace: classGrace,
                                         tasksInFlight: tasksInFlight)
        let context = try ZMQContext()
        let stop = StopFlag()
        stop.raiseOnTerminationSignals()
        let reload = ReloadFlag()
        reload.raiseOnHangUp()
        let coordinator = try Coordinator(options: options, context: context)
        print("workers \(coordinator.workersEndpoint) clients \(coordinator.clientsEndpoint)")
        fflush(stdout)
        try coordinator.run(until: stop, reload: reload)
    }
}

extension PlacementPolicy: ExpressibleByArgument {}

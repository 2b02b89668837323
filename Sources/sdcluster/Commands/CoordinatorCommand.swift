import ArgumentParser
import Cluster
import Foundation
import HTTPGateway
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
            With --http HOST:PORT it also serves HTTP (docs/http.md): AUTOMATIC1111's \
            /sdapi/v1/txt2img, a batch API, /metrics and a status page at /. It is a client of \
            the --clients port like `submit`; beyond 127.0.0.1 it needs --http-keys.
            Example: sdcluster coordinator --http 127.0.0.1:7860
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

    @Option(help: ArgumentHelp("Serve HTTP here (docs/http.md): A1111's /sdapi/v1 API, /v1/batches, /metrics, a status page at /. A bare PORT or :PORT binds 127.0.0.1. Off unless given.", valueName: "HOST:PORT"))
    var http: String?

    @Option(help: ArgumentHelp("API keys for --http, one a line ('KEY' or 'NAME KEY', 16+ characters): callers send 'Authorization: Bearer KEY'. Required when --http is not a loopback address; /metrics stays open.", valueName: "FILE"))
    var httpKeys: String?

    @Option(help: ArgumentHelp("With --curve-secret: the CURVE secret key (`sdcluster keygen`) the HTTP gateway connects to the --clients port with; its public key must be in --authorized-clients (it sees its own batches) or --admin-keys (every batch).", valueName: "FILE"))
    var httpClientKey: String?

    @Option(help: ArgumentHelp("Share of steps with full guidance for HTTP requests that give no guidance_cutoff (txt2img calls and /v1/batches lines), 0...1.", valueName: "F"))
    var guidanceCutoff: Float = 1

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
        guard (0...1).contains(guidanceCutoff) else { throw ValidationError("--guidance-cutoff must be 0...1, not \(guidanceCutoff)") }
        if http == nil, httpKeys != nil || httpClientKey != nil {
            throw ValidationError("--http-keys and --http-client-key belong to --http; give --http HOST:PORT too")
        }
        if let http {
            let address = try GatewayOptions.parseAddress(http)
            if !GatewayOptions.isLoopback(address.host), httpKeys == nil {
                throw ValidationError("--http \(http) reaches beyond this machine: give --http-keys FILE (API keys callers send as 'Authorization: Bearer KEY'), or bind to 127.0.0.1")
            }
            if curveSecret != nil, httpClientKey == nil {
                throw ValidationError("with --curve-secret, --http needs --http-client-key FILE: a client key (`sdcluster keygen http`) whose public key is in --authorized-clients or --admin-keys, so the gateway's calls pass the same access rules as any client")
            }
        }
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
        if let http {
            print("http \(try startGateway(http, coordinator: coordinator, security: security, context: context))")
        }
        fflush(stdout)
        try coordinator.run(until: stop, reload: reload)
    }
}

extension CoordinatorCommand {
    /// Starts the HTTP gateway as a client of the coordinator's client port; returns its URL.
    private func startGateway(_ http: String, coordinator: Coordinator, security: CoordinatorSecurity?,
                              context: ZMQContext) throws -> String {
        let address = try GatewayOptions.parseAddress(http)
        let credentials = try security.flatMap { security in
            try httpClientKey.map { try CurveCredentials(keyFile: $0, coordinatorKey: security.publicKey) }
        }
        let link = CoordinatorLink(endpoint: coordinator.clientsEndpoint, context: context, credentials: credentials)
        let options = GatewayOptions(host: address.host, port: address.port, keys: try httpKeys.map(APIKeys.load),
                                     txt2img: Txt2ImgDefaults(guidanceCutoff: guidanceCutoff, model: defaultModel),
                                     storeDirectory: store, maxBodyBytes: maxMessageMb << 20)
        return try HTTPGateway(options: options, link: link).start()
    }
}

extension PlacementPolicy: ExpressibleByArgument {}

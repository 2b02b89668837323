import ArgumentParser
import Cluster
import Compute
import Foundation
import Logging
import StableDiffusion

/// `sdcluster worker`: runs text encoding, UNet and VAE tasks for a coordinator.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: load a model once, then compute what the coordinator sends.",
        discussion: """
            Reconnects with back-off when the coordinator goes away; SIGTERM (or Ctrl-C) finishes \
            the running task, says DISCONNECT and exits.
            Example: sdcluster worker --coordinator tcp://10.0.0.5:7431 --model models/shapes --threads 8
            With --lora-dir DIR it also serves requests naming the LoRAs in DIR (<lora:NAME:WEIGHT>).
            """)

    @Option(help: ArgumentHelp("The coordinator's worker endpoint.", valueName: "ENDPOINT"))
    var coordinator = "tcp://127.0.0.1:7431"

    @OptionGroup var curve: CurveOptions

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("Textual-inversion embeddings prompts may name, as for `generate --embedding-dir`. Every worker of a cluster needs the same files: the worker's model hash includes them, and the coordinator uses only workers with the copy it saw first.", valueName: "DIR"))
    var embeddingDir: String?

    @OptionGroup var engineOptions: EngineOptions

    @Option(help: "Name shown in status and in the manifest (default: host name and process id).")
    var name: String?

    @Option(help: "Largest UNet batch to ask for.")
    var maxBatch: Int = 8

    @Option(help: "'pipeline' (the model) or 'simulated' (sleeps --unet-seconds per UNet call; for measuring the coordinator).")
    var engine: EngineKind = .pipeline

    @Option(help: ArgumentHelp("Seconds a simulated worker sleeps per UNet evaluation.", valueName: "S"))
    var unetSeconds: Double = 0

    @Option(help: ArgumentHelp("Heartbeat interval in seconds.", valueName: "S"))
    var heartbeat: Double = 1

    @Option(help: ArgumentHelp("Heartbeat intervals the coordinator may stay silent (any message counts) before it is given up on; raise it on lossy links.", valueName: "N"))
    var liveness = 10

    @Option(help: ArgumentHelp("Text embeddings kept by content, for later steps and later images (least recently used go first).", valueName: "N"))
    var embeddingCache: Int = 512

    @OptionGroup var logging: LoggingOptions

    enum EngineKind: String, ExpressibleByArgument {
        case pipeline, simulated
    }

    func validate() throws {
        guard (1...ProtocolLimits.standard.maxBatchItems).contains(maxBatch) else {
            throw ValidationError("--max-batch must be 1...\(ProtocolLimits.standard.maxBatchItems), not \(maxBatch)")
        }
        guard embeddingCache >= 1 else { throw ValidationError("--embedding-cache must be at least 1") }
        guard unetSeconds >= 0, heartbeat > 0 else { throw ValidationError("--unet-seconds must be >= 0 and --heartbeat > 0") }
        guard (2...1000).contains(liveness) else { throw ValidationError("--liveness must be 2...1000 heartbeat intervals, not \(liveness)") }
    }

    func run() throws {
        logging.bootstrap()
        try engineOptions.apply()
        let workerEngine: WorkerEngine
        switch engine {
        case .simulated:
            workerEngine = SimulatedEngine(unetSeconds: unetSeconds)
        case .pipeline:
            let precision = engineOptions.precision
            let pipeline = try model.loadPipeline(precision: precision, embeddingDir: embeddingDir)
            workerEngine = try PipelineEngine(pipeline: pipeline,
                                              loraLibrary: model.loraDirectory.map { LoRALibrary(directory: $0) },
                                              build: { [model, embeddingDir] in
                                                  try model.loadPipeline(location: $0, precision: precision, embeddingDir: embeddingDir)
                                              })
        }
        let displayName = name ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let options = WorkerOptions(coordinator: coordinator, name: displayName, threads: engineOptions.threads ?? Threads.count,
                                    maxBatch: maxBatch, heartbeatInterval: heartbeat, liveness: liveness, embeddingCacheSize: embeddingCache,
                                    credentials: try curve.credentials())
        let stop = StopFlag()
        stop.raiseOnTerminationSignals()
        let worker = try Worker(engine: workerEngine, options: options, context: try ZMQContext(), log: Logger(label: "worker"))
        try worker.run(until: stop)
    }
}

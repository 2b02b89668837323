import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// Runs the built `sdcluster` binary as coordinator and worker processes on loopback, for the
/// end-to-end tests. Every process it starts is killed when the test ends.
final class LocalCluster {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let tinyModel = fixtureModel("tiny-sd")

    /// A model folder of the engine's test fixtures (`tiny-sd`, `tiny-sd2`, ...).
    static func fixtureModel(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/StableDiffusionTests/Fixtures/\(name)").path
    }

    /// The `sdcluster` executable that `swift build --build-tests` put under `.build`.
    static func binary() throws -> String {
        let build = packageRoot.appendingPathComponent(".build")
        var candidates = ["debug", "release"].map { build.appendingPathComponent($0).appendingPathComponent("sdcluster").path }
        let triples = (try? FileManager.default.contentsOfDirectory(atPath: build.path)) ?? []
        for triple in triples where triple.contains("-") {
            candidates += ["debug", "release"].map { build.appendingPathComponent("\(triple)/\($0)/sdcluster").path }
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ClusterTestError.setup("the sdcluster binary is missing under \(build.path); build it first with `swift build --build-tests` (the cluster tests run it as separate processes)")
        }
        return found
    }

    let folder: URL
    let binary: String
    private(set) var coordinator: Process?
    private(set) var workers: [Process] = []
    private var others: [Process] = []
    var workersEndpoint = "tcp://127.0.0.1:0"
    var clientsEndpoint = "tcp://127.0.0.1:0"
    var store: String { folder.appendingPathComponent("store").path }
    var output: String { folder.appendingPathComponent("output").path }
    var coordinatorRuns = 0
    /// The HTTP gateway's URL when the coordinator was started with `--http`.
    var httpURL: String?

    init(_ test: XCTestCase) throws {
        binary = try Self.binary()
        folder = try temporaryFolder(test)
        test.addTeardownBlock { [self] in stopAll() }
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: folder.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// Starts the coordinator and reads back its endpoints (ports chosen by the system the
    /// first time, the same ones on a restart).
    func startCoordinator(_ extra: [String] = []) throws {
        coordinatorRuns += 1
        let out = Pipe()
        let process = try launch(["coordinator", "--workers", workersEndpoint, "--clients", clientsEndpoint,
                                  "--store", store, "--output", output, "--heartbeat", "0.5"] + extra,
                                 log: "coordinator-\(coordinatorRuns)", stdout: out)
        coordinator = process
        let wantsHTTP = extra.contains("--http")
        let lines = try readLines(out.fileHandleForReading, within: 30, count: wantsHTTP ? 2 : 1)
        let line = lines[0]
        if wantsHTTP {
            let http = lines[1].split(separator: " ").map(String.init)
            guard http.count == 2, http[0] == "http" else {
                throw ClusterTestError.setup("coordinator printed '\(lines[1])' instead of its HTTP address; log: \(log("coordinator-\(coordinatorRuns)"))")
            }
            httpURL = http[1]
        }
        let parts = line.split(separator: " ").map(String.init)
        guard parts.count == 4, parts[0] == "workers", parts[2] == "clients" else {
            throw ClusterTestError.setup("coordinator printed '\(line)'; log: \(log("coordinator-\(coordinatorRuns)"))")
        }
        workersEndpoint = parts[1]
        clientsEndpoint = parts[3]
    }

    @discardableResult
    func startWorker(_ name: String, _ extra: [String] = ["--model", LocalCluster.tinyModel, "--threads", "1"],
                     environment: [String: String] = [:]) throws -> Process {
        let process = try launch(["worker", "--coordinator", workersEndpoint, "--name", name, "--heartbeat", "0.5"] + extra,
                                 log: name, environment: environment)
        workers.append(process)
        return process
    }

    /// Runs another sdcluster command (e.g. `submit --wait`) in the background.
    func startCommand(_ arguments: [String], log name: String, environment: [String: String] = [:]) throws -> Process {
        let process = try launch(arguments, log: name, environment: environment)
        others.append(process)
        return process
    }

    func client(giveUpAfter: Double = 60) throws -> ClusterClient {
        ClusterClient(endpoint: clientsEndpoint, context: try ZMQContext(), replyTimeout: 5, giveUpAfter: giveUpAfter)
    }

    /// Waits until the coordinator lists `count` workers.
    func waitForWorkers(_ count: Int, within seconds: Double = 90) throws {
        let client = try client()
        try waitUntil(seconds, "\(count) workers to connect") { try client.status().workers.count == count }
    }

    func kill(_ process: Process?, signal: Int32 = SIGKILL) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    func stopAll() {
        for p in [coordinator].compactMap({ $0 }) + workers + others { kill(p) }
    }

    /// `environment` is added to this process's own.
    private func launch(_ arguments: [String], log name: String, stdout: Pipe? = nil, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let logURL = folder.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardError = handle
        process.standardOutput = stdout ?? handle
        try process.run()
        return process
    }

    /// The first `count` lines the process prints.
    private func readLines(_ handle: FileHandle, within seconds: Double, count: Int) throws -> [String] {
        var data = Data()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            data.append(chunk)
            if let text = String(data: data, encoding: .utf8) {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
                if lines.count >= count { return Array(lines.prefix(count)) }
            }
        }
        throw ClusterTestError.setup("the coordinator printed no endpoints; log: \(log("coordinator-\(coordinatorRuns)"))")
    }
}

enum ClusterTestError: Error, CustomStringConvertible {
    case setup(String)
    case timeout(String)

    var description: String {
        switch self {
        case .setup(let s): return s
        case .timeout(let s): return "timed out waiting for \(s)"
        }
    }
}

/// Polls `condition` every 0.2 s until it holds or `seconds` pass.
func waitUntil(_ seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw ClusterTestError.timeout(what)
}

/// Runs the `sdcluster` binary to its end: exit status and everything it printed (both streams).
func runCommand(_ binary: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The local pipeline on the tiny test model (or another fixture model a request names), loaded
/// once for all tests: the reference pixels.
extension LocalCluster {
    /// Submits `requests` as one batch named `name` and waits for it as `submit --wait` does,
    /// into `received/` under the cluster's folder.
    func submitAndReceive(_ name: String, _ requests: [GenerationRequest]) throws -> (accepted: BatchAccepted, folder: String, outcome: BatchWaiter.Outcome) {
        let client = try client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: name, submissionId: UUID().uuidString, requests: requests))
        let out = folder.appendingPathComponent("received").path
        return (accepted, out, try BatchWaiter(client: client, batchId: accepted.batchId, outputDirectory: out).run())
    }
}

enum LocalReference {
    static let pipeline: StableDiffusionPipeline? = try? StableDiffusionPipeline(location: ModelLocation.open(LocalCluster.tinyModel))

    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String: (rgb: [UInt8], evaluations: Int)] = [:]
    nonisolated(unsafe) private static var fixtureModels: [String: StableDiffusionPipeline] = [:]

    /// The pipeline of the fixture model folder named `model` (tiny-sd when nil).
    static func pipeline(for model: String?) throws -> StableDiffusionPipeline {
        guard let model, model != "tiny-sd" else {
            guard let pipeline else { throw ClusterTestError.setup("cannot load \(LocalCluster.tinyModel)") }
            return pipeline
        }
        if let loaded = lock.withLock({ fixtureModels[model] }) { return loaded }
        let loaded = try StableDiffusionPipeline(location: ModelLocation.open(LocalCluster.fixtureModel(model)))
        lock.withLock { fixtureModels[model] = loaded }
        return loaded
    }

    /// `generate`'s pixels and UNet evaluations for a request (computed once per request).
    static func pixels(_ request: GenerationRequest) throws -> (rgb: [UInt8], evaluations: Int) {
        let pipeline = try pipeline(for: request.model)
        let key = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        if let known = lock.withLock({ made[key] }) { return known }
        var local = request
        local.model = nil
        let image = try pipeline.generate(local)
        lock.withLock { made[key] = (image.rgb, image.unetEvaluations) }
        return (image.rgb, image.unetEvaluations)
    }
}

/// Mixed small requests for the tiny model: cut-offs 1, 0.5, 0.25 and 0, several schedulers
/// (Euler a draws noise every step: its generator state must survive checkpoints).
func mixedRequests(_ count: Int, steps: Int = 4) -> [GenerationRequest] {
    let cutoffs: [Float] = [1, 0.5, 0.25, 0]
    let schedulers: [SchedulerKind] = [.pndm, .ddim, .eulerAncestral, .dpmpp2mKarras]
    return (0..<count).map { (i: Int) -> GenerationRequest in
        let prompt = "shape \(i % 5) in color \(i % 3)"
        let negative = i % 2 == 0 ? "" : "blurry"
        let scheduler = schedulers[(i / 4) % 4]
        return GenerationRequest(prompt: prompt, negativePrompt: negative, seed: UInt64(100 + i), steps: steps,
                                 guidanceScale: 7.5, guidanceCutoff: cutoffs[i % 4], scheduler: scheduler,
                                 width: 32, height: 32, model: "tiny-sd")
    }
}

/// Checks every image of a finished batch folder against the local pipeline and the manifest
/// against the requests: one line per image, every field, pixels identical.
func assertBatchMatchesLocal(folder: String, requests: [GenerationRequest], file: StaticString = #filePath, line: UInt = #line) throws {
    let manifest = try String(contentsOfFile: (folder as NSString).appendingPathComponent("manifest.jsonl"), encoding: .utf8)
    let entries = try manifest.split(separator: "\n").map {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    XCTAssertEqual(entries.count, requests.count, "manifest lines", file: file, line: line)
    XCTAssertEqual(Set(entries.compactMap { $0["index"] as? Int }), Set(0..<requests.count), "each index once", file: file, line: line)
    for entry in entries {
        let index = try XCTUnwrap(entry["index"] as? Int)
        let request = requests[index]
        for key in ["prompt", "negative_prompt", "seed", "steps", "guidance_scale", "guidance_cutoff", "late_pass",
                    "scheduler", "width", "height", "model", "file", "unet_evaluations", "workers", "batch"] {
            XCTAssertNotNil(entry[key], "manifest field \(key) of image \(index)", file: file, line: line)
        }
        XCTAssertEqual(entry["prompt"] as? String, request.prompt, file: file, line: line)
        XCTAssertEqual(entry["negative_prompt"] as? String, request.negativePrompt, file: file, line: line)
        XCTAssertEqual((entry["seed"] as? NSNumber)?.uint64Value, request.seed, file: file, line: line)
        XCTAssertEqual((entry["guidance_cutoff"] as? NSNumber)?.floatValue, request.guidanceCutoff, file: file, line: line)
        // An unset scheduler is the model's own, and the manifest says which was used.
        let scheduler = try request.validated(for: LocalReference.pipeline(for: request.model).modelInfo).scheduler
        XCTAssertEqual(entry["scheduler"] as? String, scheduler?.rawValue, file: file, line: line)
        XCTAssertFalse((entry["workers"] as? [String] ?? []).isEmpty, "workers of image \(index)", file: file, line: line)
        let name = try XCTUnwrap(entry["file"] as? String)
        let got = try PNG.read(from: (folder as NSString).appendingPathComponent(name))
        let expected = try LocalReference.pixels(request)
        XCTAssertEqual(entry["unet_evaluations"] as? Int, expected.evaluations, "UNet evaluations of image \(index)", file: file, line: line)
        XCTAssertEqual(got.width, request.width, file: file, line: line)
        XCTAssertTrue(got.pixels == expected.rgb, "image \(index) (\(scheduler?.rawValue ?? "?"), cutoff \(request.guidanceCutoff)) differs from the local pipeline's pixels", file: file, line: line)
        // The workers run this machine's engine: the manifest and the PNG record its fingerprint.
        let engine = try XCTUnwrap(LocalReference.pipeline).fingerprint.description
        XCTAssertEqual(entry["engine"] as? String, engine, "manifest engine of image \(index)", file: file, line: line)
        let text = try PNG.textChunks(at: (folder as NSString).appendingPathComponent(name)).first { $0.0 == "parameters" }?.1
        XCTAssertEqual(try GenerationParameters(parsing: try XCTUnwrap(text)).engine, engine, "PNG engine of image \(index)", file: file, line: line)
    }
}

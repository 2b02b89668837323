import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// A coordinator and worker processes (the built `sdcluster` binary) on loopback with the tiny
/// test model: the cluster's images must be the local pipeline's, pixel for pixel, whatever the
/// placement and whatever dies on the way.
final class ClusterEndToEndTests: XCTestCase {
    /// The guidance interval and adaptive guidance reach the cluster's sampling: its images and
    /// evaluation counts are the local pipeline's, and the interval saves evaluations.
    func testGuidanceIntervalAndAdaptiveGuidanceRunThroughTheCluster() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        try cluster.waitForWorkers(2)
        var requests = mixedRequests(4, steps: 8)
        for i in requests.indices {
            requests[i].guidanceCutoff = 1
            if i < 2 { requests[i].guidanceInterval = GuidanceInterval(sigmaLow: 0.5, sigmaHigh: 3) } else { requests[i].adaptiveGuidanceThreshold = 0.5 }
        }
        let (_, out, outcome) = try cluster.submitAndReceive("rules", requests)
        XCTAssertEqual(outcome.counts.done, 4)
        try assertBatchMatchesLocal(folder: out, requests: requests)
        var plain = requests[0]
        plain.guidanceInterval = nil
        XCTAssertLessThan(try LocalReference.pixels(requests[0]).evaluations, try LocalReference.pixels(plain).evaluations,
                          "the interval skips the conditional pass outside it")
    }

    func testThreeWorkersMakeTwelveMixedImagesIdenticalToTheLocalPipeline() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        for i in 1...3 { try cluster.startWorker("w\(i)") }
        try cluster.waitForWorkers(3)
        let requests = mixedRequests(12)
        let (accepted, out, outcome) = try cluster.submitAndReceive("mixed", requests)
        XCTAssertEqual(accepted.count, 12)
        XCTAssertEqual(outcome.counts.done, 12)
        XCTAssertEqual(outcome.files.count, 12)
        try assertBatchMatchesLocal(folder: out, requests: requests)
        // The coordinator's own copy (output folder and manifest) is complete too.
        try assertBatchMatchesLocal(folder: (cluster.output as NSString).appendingPathComponent(accepted.batchId), requests: requests)
        let served = Set(try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
            .flatMap { line -> [String] in
                let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return entry?["workers"] as? [String] ?? []
            })
        XCTAssertEqual(served, ["w1", "w2", "w3"], "every worker took part")
    }

    /// SD 1.x and SD 2.x workers side by side (tiny-sd, and tiny-sd2 with its 1024-style
    /// v-prediction traits): a batch naming both models is routed by model, and every image is
    /// the local pipeline's of its model, pixel for pixel (guidance rescale included).
    func testWorkersOfTwoModelFamiliesServeOneBatchRoutedByModel() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        try cluster.startWorker("sd1")
        try cluster.startWorker("sd2", ["--model", LocalCluster.fixtureModel("tiny-sd2"), "--threads", "1"])
        try cluster.waitForWorkers(2)
        var requests = mixedRequests(8)
        for i in requests.indices where i % 2 == 1 { requests[i].model = "tiny-sd2" }
        requests[1].guidanceRescale = 0.7  // rides in the request to the coordinator's sampler
        let (_, out, outcome) = try cluster.submitAndReceive("families", requests)
        XCTAssertEqual(outcome.counts.done, 8)
        try assertBatchMatchesLocal(folder: out, requests: requests)
        for line in try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n") {
            let entry = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let expected = entry["model"] as? String == "tiny-sd2" ? ["sd2"] : ["sd1"]
            XCTAssertEqual(entry["workers"] as? [String], expected, "image \(entry["index"] ?? "?") served by its model's worker")
        }
    }

    /// SDXL through the cluster (tiny-sdxl: both text encoders, pooled embeddings and time ids
    /// on the wire) beside an SD 1.x worker: every SDXL image is `generate`'s, pixel for pixel
    /// (empty negative prompts conditioned on zeros, a long prompt of two chunks, the cut-off),
    /// both SDXL workers take part, and each image stays with its model's workers.
    func testSDXLWorkersMakeGeneratesImagesBesideAnSD1Worker() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        for name in ["xl1", "xl2"] {
            try cluster.startWorker(name, ["--model", LocalCluster.fixtureModel("tiny-sdxl"), "--threads", "1"])
        }
        try cluster.startWorker("sd1")
        try cluster.waitForWorkers(3)
        var requests = mixedRequests(8)
        for i in requests.indices where i % 4 != 3 { requests[i].model = "tiny-sdxl" }
        requests[2].prompt = Array(repeating: "a red circle on a blue background,", count: 12).joined(separator: " ")
        requests[4].width = 48  // time ids follow the image size
        let (_, out, outcome) = try cluster.submitAndReceive("sdxl", requests)
        XCTAssertEqual(outcome.counts.done, 8)
        try assertBatchMatchesLocal(folder: out, requests: requests)
        var sdxlWorkers: Set<String> = []
        for line in try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n") {
            let entry = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let workers = Set(entry["workers"] as? [String] ?? [])
            if entry["model"] as? String == "tiny-sdxl" {
                XCTAssertTrue(workers.isSubset(of: ["xl1", "xl2"]), "SDXL image \(entry["index"] ?? "?") served by \(workers)")
                sdxlWorkers.formUnion(workers)
            } else {
                XCTAssertEqual(workers, ["sd1"], "SD 1.x image \(entry["index"] ?? "?") served by its model's worker")
            }
        }
        XCTAssertEqual(sdxlWorkers, ["xl1", "xl2"], "both SDXL workers took part")
    }

    func testWorkersThatForgetEmbeddingsAreSentThemAgain() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--placement", "pack"])
        for i in 1...2 {
            try cluster.startWorker("w\(i)", ["--model", LocalCluster.tinyModel, "--threads", "1", "--embedding-cache", "1"])
        }
        try cluster.waitForWorkers(2)
        let requests = Array(mixedRequests(8).prefix(6))
        let (_, out, outcome) = try cluster.submitAndReceive("cache", requests)
        XCTAssertEqual(outcome.counts.done, 6)
        // With a cache of 1 the workers lose embeddings and say MISSING-EMBEDDING; that the
        // coordinator then sends the task again with them attached is checked message by
        // message in CoordinatorDispatchTests.
        try assertBatchMatchesLocal(folder: out, requests: requests)
    }

    func testAWorkerKilledMidBatchLosesNoImage() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--placement", "split"])
        let victim = try cluster.startWorker("victim")
        try cluster.startWorker("w2")
        try cluster.startWorker("w3")
        try cluster.waitForWorkers(3)
        // Long enough (20 steps an image) that the kill lands mid-batch, usually with work in flight.
        let requests = mixedRequests(12, steps: 20)
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "kill", submissionId: UUID().uuidString, requests: requests))
        // Kill it while it is working: after some images are done, while it has evaluations in flight.
        try waitUntil(120, "an image to finish and the victim to be busy") {
            let status = try client.status(batchId: accepted.batchId)
            // Prefer a moment when the victim holds evaluations; on a busy machine the status poll may
            // never see that, so any moment mid-batch will do (the batch must still complete).
            let done = status.batches[0].counts.done
            let victimBusy = status.workers.contains { $0.name == "victim" && $0.inFlight > 0 }
            return done < requests.count && (victimBusy || done >= 2)
        }
        cluster.kill(victim)
        let out = cluster.folder.appendingPathComponent("received").path
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId, outputDirectory: out).run()
        XCTAssertEqual(outcome.counts.done, 12)
        try assertBatchMatchesLocal(folder: out, requests: requests)
        XCTAssertEqual(try client.status().workers.map(\.name).sorted(), ["w2", "w3"], "the coordinator gave the dead worker up")
    }

    func testCoordinatorKilledAndRestartedMidBatchLosesAndRedoesNothing() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--placement", "pack"])
        // One image's step at a time per worker, so images finish one by one rather than 8 at
        // once (with batches of 8 the whole batch could finish between two looks at the status).
        let oneAtATime = ["--model", LocalCluster.tinyModel, "--threads", "1", "--max-batch", "1"]
        try cluster.startWorker("w1", oneAtATime)
        try cluster.startWorker("w2", oneAtATime)
        try cluster.waitForWorkers(2)
        // Long enough (20 steps an image) that the kill reliably lands mid-batch.
        let requests = mixedRequests(12, steps: 20)
        let promptFile = cluster.folder.appendingPathComponent("prompts.jsonl")
        let lines = try requests.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try (lines.joined(separator: "\n") + "\n").write(to: promptFile, atomically: true, encoding: .utf8)
        let received = cluster.folder.appendingPathComponent("received").path
        let submit = try cluster.startCommand(["submit", promptFile.path, "--coordinator", cluster.clientsEndpoint,
                                               "--wait", "--out", received, "--give-up-after", "120"], log: "submit")
        let client = try cluster.client()
        var batchId = ""
        try waitUntil(120, "3 images to finish") {
            guard let batch = try client.status().batches.first else { return false }
            batchId = batch.batchId
            return batch.counts.done >= 3
        }
        cluster.kill(cluster.coordinator)
        let batchFolder = (cluster.output as NSString).appendingPathComponent(batchId)
        let finishedBefore = try doneIndices(batchFolder)
        let datesBefore = try finishedBefore.mapValues { try modificationDate(batchFolder + "/" + $0) }
        XCTAssertLessThan(finishedBefore.count, 12, "the kill came mid-batch")

        try cluster.startCoordinator(["--placement", "pack"])
        try waitUntil(180, "submit --wait to finish") { !submit.isRunning }
        XCTAssertEqual(submit.terminationStatus, 0, "submit --wait completed; its log: \(cluster.log("submit"))")
        try assertBatchMatchesLocal(folder: received, requests: requests)
        try assertBatchMatchesLocal(folder: batchFolder, requests: requests)
        for (index, file) in finishedBefore {
            XCTAssertEqual(try modificationDate(batchFolder + "/" + file), datesBefore[index], "image \(index) finished before the kill was not redone")
        }
        XCTAssertEqual(try client.status().workers.map(\.name).sorted(), ["w1", "w2"],
                       "both workers introduced themselves to the restarted coordinator")
        let counts = try XCTUnwrap(try client.status().batches.first { $0.batchId == batchId }?.counts)
        XCTAssertEqual(counts, ImageCounts(done: 12), "the restarted coordinator finished the unfinished images")
    }

    private func doneIndices(_ folder: String) throws -> [Int: String] {
        let text = (try? String(contentsOfFile: folder + "/manifest.jsonl", encoding: .utf8)) ?? ""
        var out: [Int: String] = [:]
        for line in text.split(separator: "\n") {
            let entry = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            out[try XCTUnwrap(entry["index"] as? Int)] = try XCTUnwrap(entry["file"] as? String)
        }
        return out
    }

    private func modificationDate(_ path: String) throws -> Date {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
    }

    /// A request without a guidance scale gets the recommendation of the worker's model folder
    /// (`sdcluster.json`), and one without a size the model's native size (tiny-sd: sample_size 8
    /// x VAE factor 4 = 32); both are recorded in the manifest, and the pixels are those of the
    /// values given explicitly.
    func testAnUnsetGuidanceScaleAndSizeGetTheModelsDefaults() throws {
        let cluster = try LocalCluster(self)
        let model = cluster.folder.appendingPathComponent("recommending/tiny-sd").path
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for part in ["model_index.json", "scheduler", "text_encoder", "tokenizer", "unet", "vae"] {
            try FileManager.default.createSymbolicLink(atPath: model + "/" + part,
                                                       withDestinationPath: LocalCluster.tinyModel + "/" + part)
        }
        try Data(#"{"guidance_scale": 3}"#.utf8).write(to: URL(fileURLWithPath: model + "/sdcluster.json"))
        try cluster.startCoordinator()
        try cluster.startWorker("w1", ["--model", model, "--threads", "1"])
        try cluster.waitForWorkers(1)
        let unset = GenerationRequest(prompt: "a red circle", seed: 5, steps: 4, model: "tiny-sd")
        var explicit = unset
        explicit.guidanceScale = 7.5
        explicit.width = 24
        explicit.height = 16
        let client = try cluster.client()
        let accepted = try client.submit(SubmitBatch(clientBatchName: "defaults", submissionId: UUID().uuidString,
                                                     requests: [unset, explicit]))
        let out = cluster.folder.appendingPathComponent("received").path
        let outcome = try BatchWaiter(client: client, batchId: accepted.batchId, outputDirectory: out).run()
        XCTAssertEqual(outcome.counts.done, 2)
        let lines = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let scales = lines.reduce(into: [Int: Float]()) { $0[$1["index"] as? Int ?? -1] = ($1["guidance_scale"] as? NSNumber)?.floatValue }
        XCTAssertEqual(scales, [0: 3, 1: 7.5])
        let sizes = lines.reduce(into: [Int: [Int]]()) { $0[$1["index"] as? Int ?? -1] = [$1["width"] as? Int ?? 0, $1["height"] as? Int ?? 0] }
        XCTAssertEqual(sizes, [0: [32, 32], 1: [24, 16]])
        var asRecommended = unset
        asRecommended.guidanceScale = 3
        asRecommended.width = 32
        asRecommended.height = 32
        let names = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(names.count, 2)
        let first = try PNG.read(from: out + "/" + names[0])
        XCTAssertEqual([first.width, first.height], [32, 32])
        XCTAssertTrue(first.pixels == (try LocalReference.pixels(asRecommended)).rgb, "unset scale drew other pixels than scale 3")
        XCTAssertFalse(first.pixels == (try LocalReference.pixels(explicit)).rgb, "scale 3 and 7.5 drew the same pixels")
    }
}

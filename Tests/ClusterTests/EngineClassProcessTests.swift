import Foundation
import XCTest
import ImageIO
@testable import Cluster
import StableDiffusion

/// Two worker processes of different engine classes (one with oneDNN capped at AVX2): every
/// image's evaluations stay within one class, and each PNG has exactly the pixels `generate`
/// makes on an engine of that class. The shipped shapes model at 128x128 is used because its
/// images do differ between the classes on an AVX-512 machine (the tiny test model's 32x32 ones
/// do not). On a machine whose best ISA is AVX2 both workers are of one class.
final class EngineClassProcessTests: XCTestCase {
    private let capped = ["ONEDNN_MAX_CPU_ISA": "AVX2"]

    func testEveryImageStaysOnOneEngineClassAndEqualsGenerateOfThatClass() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator()
        let model = LocalCluster.packageRoot.appendingPathComponent("models/shapes").path
        try cluster.startWorker("native", ["--model", model, "--threads", "1"])
        try cluster.startWorker("avx2", ["--model", model, "--threads", "1"], environment: capped)
        try cluster.waitForWorkers(2)
        let classOf = Dictionary(uniqueKeysWithValues: try cluster.client().status().workers.map { ($0.name, $0.engine ?? "") })
        XCTAssertTrue(classOf["avx2"]?.contains("avx2") == true, "the capped worker reports its ISA: \(classOf)")

        let prompts = ["a red circle on a blue background", "a large white cross on a green background",
                       "a small yellow striped star at the top on a black background", "a blue square at the bottom on a white background"]
        let requests = prompts.enumerated().map { i, prompt in
            GenerationRequest(prompt: prompt, seed: UInt64(500 + i), steps: 6, guidanceScale: 2.5, guidanceCutoff: [1, 0.5][i % 2],
                              width: 128, height: 128)
        }
        let promptFile = cluster.folder.appendingPathComponent("prompts.jsonl")
        try (try requests.map(Self.jsonLine).joined(separator: "\n") + "\n").write(to: promptFile, atomically: true, encoding: .utf8)
        let received = cluster.folder.appendingPathComponent("received").path
        let submit = try cluster.startCommand(["submit", promptFile.path, "--coordinator", cluster.clientsEndpoint,
                                               "--wait", "--out", received, "--give-up-after", "120"], log: "submit")
        // The references: generate on each class, while the cluster works.
        var references: [String: String] = [:]
        for (worker, environment) in [("native", [String: String]()), ("avx2", capped)] {
            let folder = cluster.folder.appendingPathComponent("reference-\(worker)").path
            let generate = try cluster.startCommand(["generate", "--prompts", promptFile.path, "--model", model,
                                                     "--threads", "1", "-o", folder], log: "generate-\(worker)", environment: environment)
            try waitUntil(180, "generate (\(worker)) to finish") { !generate.isRunning }
            XCTAssertEqual(generate.terminationStatus, 0, "generate: \(cluster.log("generate-\(worker)"))")
            references[classOf[worker] ?? worker] = folder
        }
        try waitUntil(180, "submit --wait to finish") { !submit.isRunning }
        XCTAssertEqual(submit.terminationStatus, 0, "submit --wait: \(cluster.log("submit"))")

        let manifest = try String(contentsOfFile: received + "/manifest.jsonl", encoding: .utf8)
        let entries = try manifest.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(entries.count, requests.count)
        for entry in entries {
            let file = try XCTUnwrap(entry["file"] as? String)
            let workers = try XCTUnwrap(entry["workers"] as? [String])
            let classes = Set(workers.map { classOf[$0] ?? "?" })
            XCTAssertEqual(classes.count, 1, "\(file): evaluated on \(workers), classes \(classes)")
            let engineClass = try XCTUnwrap(classes.first)
            let reference = try XCTUnwrap(references[engineClass], "a reference for class \(engineClass)")
            let got = try PNG.read(from: received + "/" + file)
            let expected = try PNG.read(from: reference + "/" + file)
            XCTAssertTrue(got.pixels == expected.pixels, "\(file) on \(workers) differs from generate on class \(engineClass)")
        }
    }

    /// A JSONL request line for `submit` and `generate` alike (no model name: each uses its one model).
    private static func jsonLine(_ r: GenerationRequest) throws -> String {
        let object: [String: Any] = ["prompt": r.prompt, "negative_prompt": r.negativePrompt, "seed": r.seed, "steps": r.steps,
                                     "guidance_scale": r.guidanceScale ?? 7.5, "guidance_cutoff": r.guidanceCutoff,
                                     "scheduler": (r.scheduler ?? .pndm).rawValue, "width": r.width ?? 128, "height": r.height ?? 128]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

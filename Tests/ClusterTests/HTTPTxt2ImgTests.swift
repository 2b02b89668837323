import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// `coordinator --http` driven over real HTTP with two workers on the tiny test model: the
/// A1111-compatible txt2img call gives `generate`'s pixels, runs calls side by side, and answers
/// bad input with A1111's 422.
final class HTTPTxt2ImgTests: XCTestCase {
    private func startCluster(workers: Int = 2, extra: [String] = []) throws -> (LocalCluster, HTTPTestClient) {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--http", "127.0.0.1:0"] + extra)
        for i in 1...workers { try cluster.startWorker("w\(i)") }
        try cluster.waitForWorkers(workers)
        return (cluster, HTTPTestClient(baseURL: try XCTUnwrap(cluster.httpURL)))
    }

    func testTxt2ImgAnswersGeneratesPixelsInA1111Shape() throws {
        let (_, http) = try startCluster()
        let body: [String: Any] = ["prompt": "shape 1 in color 2", "negative_prompt": "blurry", "seed": 123, "steps": 4,
                                   "cfg_scale": 7.5, "width": 32, "height": 32, "sampler_name": "DDIM", "batch_size": 2,
                                   "guidance_cutoff": 0.5, "a_field_a1111_does_not_know": [1, 2]]
        let answer = try http.post("/sdapi/v1/txt2img", json: body)
        XCTAssertEqual(answer.status, 200, answer.text)
        let object = try answer.object()
        let images = try XCTUnwrap(object["images"] as? [String])
        XCTAssertEqual(images.count, 2)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(object["info"] as? String).utf8)) as? [String: Any])
        XCTAssertEqual(info["all_seeds"] as? [Int], [123, 124], "image i gets seed + i, as in A1111")
        XCTAssertEqual(info["seed"] as? Int, 123)
        XCTAssertEqual(info["sampler_name"] as? String, "DDIM")
        XCTAssertEqual(info["width"] as? Int, 32)
        XCTAssertEqual(info["sd_model_name"] as? String, "tiny-sd")
        let infotexts = try XCTUnwrap(info["infotexts"] as? [String])
        let parameters = try XCTUnwrap(object["parameters"] as? [String: Any])
        XCTAssertEqual(parameters["prompt"] as? String, "shape 1 in color 2")
        XCTAssertEqual(parameters["n_iter"] as? Int, 1, "A1111's defaults are filled in")
        XCTAssertNil(parameters["a_field_a1111_does_not_know"], "unknown fields are ignored, as pydantic does")
        for (i, encoded) in images.enumerated() {
            let png = [UInt8](try XCTUnwrap(Data(base64Encoded: encoded)))
            let request = GenerationRequest(prompt: "shape 1 in color 2", negativePrompt: "blurry", seed: UInt64(123 + i), steps: 4,
                                            guidanceScale: 7.5, guidanceCutoff: 0.5, scheduler: .ddim, width: 32, height: 32)
            XCTAssertTrue(try PNG.decode(png).pixels == (try LocalReference.pixels(request)).rgb, "image \(i) is generate's")
            let text = try XCTUnwrap(try PNG.textChunks(png).first { $0.0 == "parameters" }?.1)
            XCTAssertEqual(text, infotexts[i], "info.infotexts holds each PNG's parameters text")
            let read = try GenerationParameters(parsing: text)
            XCTAssertEqual(read.request.seed, UInt64(123 + i))
            XCTAssertEqual(read.request.guidanceCutoff, 0.5)
        }
    }

    func testRandomSeedIsReportedAndIsTheOneUsed() throws {
        let (_, http) = try startCluster(workers: 1)
        let answer = try http.post("/sdapi/v1/txt2img", json: ["prompt": "shape 3", "seed": -1, "steps": 3, "width": 32, "height": 32,
                                                               "sampler_name": "Euler a", "cfg_scale": 7])
        XCTAssertEqual(answer.status, 200, answer.text)
        let object = try answer.object()
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(object["info"] as? String).utf8)) as? [String: Any])
        let seed = try XCTUnwrap((info["seed"] as? NSNumber)?.uint64Value)
        XCTAssertLessThan(seed, 1 << 32, "A1111's range for random seeds")
        XCTAssertEqual((try answer.object()["parameters"] as? [String: Any])?["seed"] as? Int, -1, "parameters echo the request")
        let png = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap((object["images"] as? [String])?.first))))
        let request = GenerationRequest(prompt: "shape 3", seed: seed, steps: 3, guidanceScale: 7, scheduler: .eulerAncestral, width: 32, height: 32)
        XCTAssertTrue(try PNG.decode(png).pixels == (try LocalReference.pixels(request)).rgb, "the reported seed made the image")
    }

    /// A1111 serves one call at a time; here two calls are two batches that the coordinator runs
    /// at once: both are seen running together, and both answers are right.
    func testConcurrentCallsRunInParallelAcrossWorkers() throws {
        let (cluster, http) = try startCluster(extra: ["--placement", "pack"])
        let requests = (0..<2).map { i in
            ["prompt": "shape \(i)", "seed": 10 + i, "steps": 40, "width": 32, "height": 32, "sampler_name": "PLMS", "cfg_scale": 7.5] as [String: Any]
        }
        var answers: [HTTPTestClient.Answer?] = [nil, nil]
        let group = DispatchGroup()
        let lock = NSLock()
        for i in 0..<2 {
            DispatchQueue.global().async(group: group) {
                let answer = try? http.post("/sdapi/v1/txt2img", json: requests[i])
                lock.withLock { answers[i] = answer }
            }
        }
        // Both batches running at one moment: neither waited for the other to finish.
        let client = try cluster.client()
        var sawBothRunning = false
        try waitUntil(120, "both txt2img batches to run at once") {
            let batches = try client.status().batches
            sawBothRunning = batches.count == 2 && batches.allSatisfy { $0.counts.running == 1 }
            return sawBothRunning || group.wait(timeout: .now()) == .success
        }
        XCTAssertTrue(sawBothRunning, "the two calls' images were running at the same time")
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success)
        for i in 0..<2 {
            let answer = try XCTUnwrap(answers[i], "call \(i) answered")
            XCTAssertEqual(answer.status, 200, answer.text)
            let png = [UInt8](try XCTUnwrap(Data(base64Encoded: try XCTUnwrap((try answer.object()["images"] as? [String])?.first))))
            let request = GenerationRequest(prompt: "shape \(i)", seed: UInt64(10 + i), steps: 40, guidanceScale: 7.5, scheduler: .pndm,
                                            width: 32, height: 32)
            XCTAssertTrue(try PNG.decode(png).pixels == (try LocalReference.pixels(request)).rgb, "call \(i) got generate's pixels")
        }
    }

    func testBadInputGets422WithAMessage() throws {
        let (_, http) = try startCluster(workers: 1)
        func detail(_ body: Any) throws -> [[String: Any]] {
            let answer = try http.post("/sdapi/v1/txt2img", json: body)
            XCTAssertEqual(answer.status, 422, answer.text)
            return try XCTUnwrap(try answer.object()["detail"] as? [[String: Any]], answer.text)
        }
        let typed = try detail(["prompt": "x", "steps": "many", "cfg_scale": true])
        XCTAssertEqual(typed.compactMap { $0["loc"] as? [String] }, [["body", "steps"], ["body", "cfg_scale"]], "every bad field is named")
        XCTAssertTrue((typed[0]["msg"] as? String ?? "").contains("valid integer"))
        let sampler = try detail(["prompt": "x", "sampler_name": "Heun"])
        XCTAssertEqual(sampler.first?["loc"] as? [String], ["body", "sampler_name"])
        let samplerMessage = sampler.first?["msg"] as? String ?? ""
        XCTAssertTrue(samplerMessage.contains("Heun") && samplerMessage.contains("Euler a") && samplerMessage.contains("DPM++ 2M"), samplerMessage)
        let schedule = try detail(["prompt": "x", "sampler_name": "Euler", "scheduler": "Karras"])
        XCTAssertEqual(schedule.first?["loc"] as? [String], ["body", "scheduler"])
        // Refused by the coordinator's own checks (the model's rules), passed on as a 422.
        let size = try detail(["prompt": "x", "steps": 2, "width": 36, "height": 32])
        XCTAssertTrue((size.first?["msg"] as? String ?? "").contains("36"), "the coordinator's message names the bad width: \(size)")
        let hires = try detail(["prompt": "x", "enable_hr": true])
        XCTAssertEqual(hires.first?["loc"] as? [String], ["body", "enable_hr"])
        let notJSON = try http.send("POST", "/sdapi/v1/txt2img", body: Data("{not json".utf8), contentType: "application/json")
        XCTAssertEqual(notJSON.status, 422)
        let unknownModel = try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "steps": 2, "override_settings": ["sd_model_checkpoint": "nope"]])
        XCTAssertEqual(unknownModel.status, 404, unknownModel.text)
        XCTAssertTrue((try unknownModel.object()["detail"] as? String ?? "").contains("nope"), unknownModel.text)
    }
}

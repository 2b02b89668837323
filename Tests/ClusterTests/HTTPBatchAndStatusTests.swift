import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// The gateway's own routes over real HTTP: the batch API, A1111's listing routes, `/metrics`,
/// the status page and API keys.
final class HTTPBatchAndStatusTests: XCTestCase {
    func testBatchAPISubmitsListsServesAndCancels() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--http", "127.0.0.1:0"])
        try cluster.startWorker("w1")
        try cluster.waitForWorkers(1)
        let http = HTTPTestClient(baseURL: try XCTUnwrap(cluster.httpURL))
        let requests = mixedRequests(3, steps: 3)
        let lines = try requests.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n")
        let posted = try http.send("POST", "/v1/batches?name=three", body: Data(lines.utf8), contentType: "application/jsonl",
                                   headers: ["Idempotency-Key": "retry-me"])
        XCTAssertEqual(posted.status, 201, posted.text)
        let id = try XCTUnwrap(try posted.object()["id"] as? String)
        XCTAssertEqual(try posted.object()["count"] as? Int, 3)
        let again = try http.send("POST", "/v1/batches?name=three", body: Data(lines.utf8), headers: ["Idempotency-Key": "retry-me"])
        XCTAssertEqual(try again.object()["id"] as? String, id, "a retried POST with the same key is the same batch")

        var shown: [String: Any] = [:]
        try waitUntil(120, "the batch to finish") {
            shown = try http.get("/v1/batches/\(id)").object()
            return (shown["counts"] as? [String: Any])?["done"] as? Int == 3
        }
        XCTAssertEqual(shown["name"] as? String, "three")
        let images = try XCTUnwrap(shown["images"] as? [[String: Any]])
        XCTAssertEqual(Set(images.compactMap { $0["index"] as? Int }), [0, 1, 2])
        let manifest = try http.get("/v1/batches/\(id)/manifest.jsonl")
        XCTAssertEqual(manifest.status, 200)
        let entries = try manifest.text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(entries.count, 3)
        for entry in entries {
            let index = try XCTUnwrap(entry["index"] as? Int)
            let file = try XCTUnwrap(entry["file"] as? String)
            let png = try http.get("/v1/batches/\(id)/images/\(file)")
            XCTAssertEqual(png.status, 200)
            XCTAssertEqual(png.headers["content-type"], "image/png")
            XCTAssertTrue(try PNG.decode([UInt8](png.body)).pixels == (try LocalReference.pixels(requests[index])).rgb, "image \(index)")
        }
        XCTAssertEqual(try http.get("/v1/batches/\(id)/images/9999-1.png").status, 404)
        XCTAssertEqual(try http.get("/v1/batches/no-such-batch").status, 404)

        let unnamed = try http.send("POST", "/v1/batches?name=&submission_id=", body: Data("a prompt\n".utf8), contentType: "text/plain")
        XCTAssertEqual(unnamed.status, 201, "empty query values count as absent: \(unnamed.text)")
        XCTAssertEqual(try unnamed.object()["name"] as? String, "http")
        let bad = try http.send("POST", "/v1/batches", body: Data("{\"prompt\": \"x\", \"steps\": 0}\n".utf8))
        XCTAssertEqual(bad.status, 422, bad.text)
        XCTAssertTrue(bad.text.contains("steps"), bad.text)

        let long = try http.send("POST", "/v1/batches", body: Data("{\"prompt\": \"x\", \"steps\": 200, \"count\": 20, \"width\": 32, \"height\": 32}\n".utf8))
        let longId = try XCTUnwrap(try long.object()["id"] as? String, long.text)
        let cancelled = try http.delete("/v1/batches/\(longId)")
        XCTAssertEqual(cancelled.status, 200, cancelled.text)
        let counts = try XCTUnwrap(try cancelled.object()["counts"] as? [String: Any])
        XCTAssertGreaterThan(counts["cancelled"] as? Int ?? 0, 0, "unfinished images were cancelled: \(counts)")

        let openapi = try http.get("/openapi.json").object()
        let paths = try XCTUnwrap(openapi["paths"] as? [String: Any])
        for path in ["/v1/batches", "/v1/batches/{id}", "/v1/batches/{id}/manifest.jsonl", "/v1/batches/{id}/images/{file}"] {
            XCTAssertNotNil(paths[path], "openapi.json describes \(path)")
        }
    }

    func testListingsMetricsAndStatusPage() throws {
        let cluster = try LocalCluster(self)
        try cluster.startCoordinator(["--http", "127.0.0.1:0"])
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        try cluster.waitForWorkers(2)
        let http = HTTPTestClient(baseURL: try XCTUnwrap(cluster.httpURL))
        let models = try XCTUnwrap(try http.get("/sdapi/v1/sd-models").json() as? [[String: Any]])
        XCTAssertEqual(models.compactMap { $0["title"] as? String }, ["tiny-sd"])
        let samplers = try XCTUnwrap(try http.get("/sdapi/v1/samplers").json() as? [[String: Any]])
        XCTAssertEqual(Set(samplers.compactMap { $0["name"] as? String }), ["DPM++ 2M", "Euler a", "Euler", "DDIM", "PLMS"])
        let schedulers = try XCTUnwrap(try http.get("/sdapi/v1/schedulers").json() as? [[String: Any]])
        XCTAssertTrue(schedulers.contains { $0["label"] as? String == "Karras" })
        XCTAssertEqual(try http.get("/sdapi/v1/options").object()["sd_model_checkpoint"] as? String, "tiny-sd",
                       "before any choice, the model the coordinator would use")
        XCTAssertEqual(try http.post("/sdapi/v1/options", json: ["sd_model_checkpoint": "tiny-sd.safetensors [0123abcd]"]).status, 200)
        XCTAssertEqual(try http.get("/sdapi/v1/options").object()["sd_model_checkpoint"] as? String, "tiny-sd.safetensors [0123abcd]")
        XCTAssertEqual(try http.post("/sdapi/v1/options", json: ["sd_model_checkpoint": "other"]).status, 422)
        let idle = try http.get("/sdapi/v1/progress").object()
        XCTAssertEqual(idle["progress"] as? Double, 0)
        XCTAssertNotNil(idle["state"] as? [String: Any])
        XCTAssertEqual(try http.post("/sdapi/v1/interrupt", json: [String: Any]()).status, 200)

        let done = try http.post("/sdapi/v1/txt2img", json: ["prompt": "shape 2", "steps": 2, "width": 32, "height": 32, "n_iter": 2])
        XCTAssertEqual(done.status, 200, done.text)
        let metrics = try http.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") ?? false)
        let engine = try XCTUnwrap(LocalReference.pipeline).fingerprint.description
        let lines = Set(metrics.text.split(separator: "\n").map(String.init))
        XCTAssertTrue(lines.contains("sdcluster_workers{engine=\"\(engine)\",model=\"tiny-sd\"} 2"), metrics.text)
        XCTAssertTrue(lines.contains("sdcluster_images{state=\"done\"} 2"), metrics.text)
        XCTAssertTrue(lines.contains("sdcluster_http_txt2img_seconds_count 1"), metrics.text)
        XCTAssertTrue(lines.contains("sdcluster_http_txt2img_images_total 2"), metrics.text)
        XCTAssertTrue(lines.contains { $0.hasPrefix("sdcluster_store_bytes ") && !$0.hasSuffix(" 0") }, metrics.text)
        // The coordinator's own counters (STATUS-REPLY `counters`): both images' latencies, no task re-sent.
        XCTAssertTrue(lines.contains("sdcluster_image_seconds_count 2"), metrics.text)
        XCTAssertTrue(lines.contains("sdcluster_tasks_resent_total 0"), metrics.text)
        let taskBuckets = metrics.text.split(separator: "\n").filter { $0.hasPrefix("sdcluster_unet_task_seconds_bucket") }
            .compactMap { Double($0.split(separator: " ").last!) }
        XCTAssertEqual(taskBuckets, taskBuckets.sorted(), "buckets are cumulative")
        XCTAssertGreaterThan(taskBuckets.last ?? 0, 0, "UNet tasks were timed")
        XCTAssertTrue(lines.contains("sdcluster_unet_task_seconds_count \(Int(taskBuckets.last ?? -1))"), "+Inf equals the count")
        let evaluations = lines.filter { $0.hasPrefix("sdcluster_worker_evaluations_total{") }
            .compactMap { Double($0.split(separator: " ").last!) }
        XCTAssertEqual(evaluations.count, 2)
        XCTAssertGreaterThan(evaluations.reduce(0, +), 0)

        let page = try http.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.headers["content-type"]?.hasPrefix("text/html") ?? false)
        XCTAssertTrue(page.text.contains("/v1/status") && !page.text.contains("http://") && !page.text.contains("https://"),
                      "the page polls /v1/status and loads nothing from elsewhere")
        let status = try http.get("/v1/status").object()
        XCTAssertEqual((status["workers"] as? [[String: Any]])?.count, 2)
        let latest = try XCTUnwrap(status["latest_images"] as? [[String: Any]])
        XCTAssertEqual(latest.count, 2, "the two finished images are offered as thumbnails")
        XCTAssertEqual(try http.get(try XCTUnwrap(latest.first?["url"] as? String)).status, 200)
    }

    func testAPIKeysGuardEverythingButMetrics() throws {
        let cluster = try LocalCluster(self)
        let keys = cluster.folder.appendingPathComponent("http-keys")
        try "# callers\nalice 0123456789abcdef0123\n".write(to: keys, atomically: true, encoding: .utf8)
        try cluster.startCoordinator(["--http", "127.0.0.1:0", "--http-keys", keys.path])
        var http = HTTPTestClient(baseURL: try XCTUnwrap(cluster.httpURL))
        XCTAssertEqual(try http.get("/metrics").status, 200, "metrics stay open for scrapers")
        XCTAssertEqual(try http.get("/").status, 200, "the page itself holds no data")
        for path in ["/v1/status", "/v1/batches", "/sdapi/v1/sd-models", "/openapi.json"] {
            XCTAssertEqual(try http.get(path).status, 401, path)
        }
        http.bearer = "0123456789abcdef0124"
        XCTAssertEqual(try http.get("/v1/batches").status, 401, "a wrong key")
        http.bearer = "0123456789abcdef0123"
        XCTAssertEqual(try http.get("/v1/batches").status, 200)
        XCTAssertEqual(try http.get("/sdapi/v1/samplers").status, 200)

        // Beyond loopback without keys the coordinator refuses to start, saying why.
        let refused = try cluster.startCommand(["coordinator", "--http", "0.0.0.0:0", "--store", cluster.folder.appendingPathComponent("s2").path],
                                               log: "open-http")
        refused.waitUntilExit()
        XCTAssertNotEqual(refused.terminationStatus, 0)
        XCTAssertTrue(cluster.log("open-http").contains("--http-keys"), cluster.log("open-http"))
    }
}

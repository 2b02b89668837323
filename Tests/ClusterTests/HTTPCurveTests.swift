import Foundation
import XCTest
@testable import Cluster

/// The gateway on a CURVE cluster: it connects with its own client key, so the coordinator's
/// roles apply to HTTP callers (a client key sees only its own batches) and removing the key
/// cuts the gateway off like any client.
final class HTTPCurveTests: XCTestCase {
    func testTheGatewayIsAClientOfTheCurveClusterWithItsOwnKeysRole() throws {
        let cluster = try LocalCluster(self)
        let keys = cluster.folder.appendingPathComponent("keys")
        for folder in ["workers", "clients", "peers"] {
            try FileManager.default.createDirectory(at: keys.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        func key(_ name: String, listedIn folder: String?) throws -> String {
            let base = keys.appendingPathComponent("peers/\(name)").path
            try KeyFiles.generate(base: base, name: name)
            if let folder { try FileManager.default.copyItem(atPath: base + ".pub", toPath: keys.appendingPathComponent("\(folder)/\(name).pub").path) }
            return base
        }
        let coordinator = try key("coordinator", listedIn: nil)
        let worker = try key("w1", listedIn: "workers")
        let gateway = try key("http", listedIn: "clients")
        let bob = try key("bob", listedIn: "clients")
        let curve = ["--curve-secret", coordinator + ".key", "--authorized-workers", keys.appendingPathComponent("workers").path,
                     "--authorized-clients", keys.appendingPathComponent("clients").path]

        let refused = try cluster.startCommand(["coordinator", "--http", "127.0.0.1:0", "--store", cluster.folder.appendingPathComponent("s2").path] + curve,
                                               log: "no-client-key")
        refused.waitUntilExit()
        XCTAssertNotEqual(refused.terminationStatus, 0)
        XCTAssertTrue(cluster.log("no-client-key").contains("--http-client-key"), cluster.log("no-client-key"))

        try cluster.startCoordinator(["--http", "127.0.0.1:0", "--http-client-key", gateway + ".key"] + curve)
        try cluster.startWorker("w1", ["--model", LocalCluster.tinyModel, "--threads", "1", "--key", worker + ".key",
                                       "--coordinator-key", coordinator + ".pub"])
        let http = HTTPTestClient(baseURL: try XCTUnwrap(cluster.httpURL))
        try waitUntil(90, "the worker to join") {
            (try http.get("/sdapi/v1/sd-models").json() as? [[String: Any]])?.count == 1
        }
        let made = try http.post("/sdapi/v1/txt2img", json: ["prompt": "x", "steps": 2, "width": 32, "height": 32])
        XCTAssertEqual(made.status, 200, made.text)

        let bobClient = ClusterClient(endpoint: cluster.clientsEndpoint, context: try ZMQContext(), giveUpAfter: 30,
                                      credentials: try CurveCredentials(keyFile: bob + ".key", coordinatorKey: coordinator + ".pub"))
        let bobs = try bobClient.submit(SubmitBatch(clientBatchName: "bob's", submissionId: UUID().uuidString,
                                                    requests: [.init(prompt: "y", steps: 2, width: 32, height: 32)]))
        let listed = try XCTUnwrap(try http.get("/v1/batches").object()["batches"] as? [[String: Any]])
        XCTAssertEqual(listed.count, 1, "the gateway sees its own txt2img batch only")
        XCTAssertFalse(listed.contains { $0["id"] as? String == bobs.batchId })
        XCTAssertEqual(try http.get("/v1/batches/\(bobs.batchId)").status, 404, "another client's batch is unknown to the gateway's key")
        XCTAssertEqual(try http.delete("/v1/batches/\(bobs.batchId)").status, 404, "and cannot be cancelled through it")

        try FileManager.default.removeItem(at: keys.appendingPathComponent("clients/http.pub"))
        XCTAssertEqual(kill(try XCTUnwrap(cluster.coordinator).processIdentifier, SIGHUP), 0)
        try waitUntil(20, "the gateway to be cut off") { try http.get("/v1/batches").status != 200 }
        let cut = try http.get("/v1/batches")
        XCTAssertTrue([403, 503].contains(cut.status), "\(cut.status) \(cut.text)")
        XCTAssertTrue(cut.text.contains("key"), "the answer says the key is refused: \(cut.text)")
    }
}

import Foundation
import XCTest
import ImageIO
import StableDiffusion
@testable import Cluster

/// `sdcluster fetch`: a wait resumed into the same folder fetches only what is missing, a damaged
/// folder is fetched again, and a wait without progress ends at its bound.
final class BatchFetchTests: XCTestCase {
    private func requests(_ n: Int) -> [GenerationRequest] {
        (0..<n).map { GenerationRequest(prompt: "p\($0)", seed: UInt64($0), steps: 2, width: 64, height: 64, model: SimulatedEngine.modelName) }
    }

    func testAResumedFetchKeepsIntactFilesAndRefetchesADamagedFolder() throws {
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0))
        let client = try cluster.client()
        let batch = try client.submit(SubmitBatch(clientBatchName: "f", submissionId: UUID().uuidString, requests: requests(3))).batchId
        let folder = cluster.folder.appendingPathComponent("got").path
        let first = try BatchWaiter(client: client, batchId: batch, outputDirectory: folder).run()
        XCTAssertEqual(first.files.count, 3)
        let manifest = (folder as NSString).appendingPathComponent("manifest.jsonl")
        func lines() throws -> Int { try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").count }

        let again = try BatchWaiter(client: client, batchId: batch, outputDirectory: folder).run(resume: true)
        XCTAssertEqual(again.files.count, 0, "nothing fetched again")
        XCTAssertEqual(again.kept, 3)
        XCTAssertEqual(try lines(), 3)

        // A damaged file: everything is fetched again, and the manifest lists each image once.
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: first.files[1]))
        let repaired = try BatchWaiter(client: client, batchId: batch, outputDirectory: folder).run(resume: true)
        XCTAssertEqual(repaired.files.count, 3)
        XCTAssertEqual(repaired.kept, 0)
        XCTAssertEqual(try lines(), 3)
        XCTAssertNoThrow(try PNG.read(from: first.files[1]))

        // A cursor rewound (as when a wait stopped between a file and its cursor): no line twice.
        try Data("{\"batch\":\"\(batch)\",\"since\":1}\n".utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(".sdcluster-fetch")))
        let rewound = try BatchWaiter(client: client, batchId: batch, outputDirectory: folder).run(resume: true)
        XCTAssertEqual(rewound.kept, 3)
        XCTAssertEqual(rewound.files.count, 0, "the two results fetched again were listed already")
        XCTAssertEqual(try lines(), 3)
    }

    /// FETCH's `limit`: one result when asked for one (the HTTP gateway's image route), from the
    /// cursor on; without it, up to the coordinator's bound.
    func testAFetchLimitedToOneSendsOneResult() throws {
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("w", engine: SimulatedEngine(unetSeconds: 0))
        let client = try cluster.client()
        let batch = try client.submit(SubmitBatch(clientBatchName: "f", submissionId: UUID().uuidString, requests: requests(3))).batchId
        _ = try BatchWaiter(client: client, batchId: batch, outputDirectory: cluster.folder.appendingPathComponent("got").path).run()
        XCTAssertEqual(try client.fetch(batchId: batch, since: 0, waitSeconds: 0).results.count, 3)
        let one = try client.fetch(batchId: batch, since: 1, waitSeconds: 0, limit: 1)
        XCTAssertEqual(one.results.map(\.sequence), [1])
        XCTAssertEqual(one.progress.nextSince, 2)
        XCTAssertNotNil(one.results.first?.png)
    }

    func testAWaitWithoutProgressEndsAtItsBound() throws {
        let cluster = try InProcessCluster(self)
        try cluster.startWorker("slow", engine: SimulatedEngine(unetSeconds: 3))
        let client = try cluster.client()
        let batch = try client.submit(SubmitBatch(clientBatchName: "f", submissionId: UUID().uuidString, requests: requests(1))).batchId
        let started = monotonicSeconds()
        XCTAssertThrowsError(try BatchWaiter(client: client, batchId: batch, outputDirectory: cluster.folder.appendingPathComponent("got").path,
                                             giveUpWithoutProgress: 1).run()) { error in
            guard case ClientError.noProgress(let id, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(id, batch)
            XCTAssertTrue("\(error)".contains("sdcluster fetch \(batch)"), "\(error)")
        }
        XCTAssertLessThan(monotonicSeconds() - started, 10)
        _ = try client.cancel(batchId: batch)
    }

    func testAnOutputFolderThatCannotTakeFilesIsNamedWithTheReason() throws {
        let file = try temporaryFolder(self).appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try WritableFolder.check(file.appendingPathComponent("sub").path, role: "output folder (--out)")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(file.path) && text.contains("output folder (--out)") && text.contains("Not a directory"), text)
        }
    }
}

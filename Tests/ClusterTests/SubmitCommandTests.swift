import Foundation
import XCTest

/// `sdcluster submit` as a user runs it, against mistakes that used to leave it hanging.
final class SubmitCommandTests: XCTestCase {
    /// A mistyped address: nothing listens there. The client gives up after --connect-timeout
    /// (default 20 s, was 300 s), naming the endpoint, instead of retrying for minutes.
    func testASubmitToAnAddressWhereNoCoordinatorListensEndsAtTheConnectTimeout() throws {
        let binary = try LocalCluster.binary()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("submit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("prompts.txt").path
        try Data("a red circle\n".utf8).write(to: URL(fileURLWithPath: prompts))
        // A high port chosen at random: nothing of this machine's listens there.
        let port = Int.random(in: 40000..<60000)
        let started = Date()
        let result = try runCommand(binary, ["submit", prompts, "--coordinator", "127.0.0.1:\(port)", "--connect-timeout", "2"])
        let took = Date().timeIntervalSince(started)
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("127.0.0.1:\(port)"), "names the endpoint: \(result.output)")
        XCTAssertLessThan(took, 15, "gave up after about the 2 s connect timeout, not minutes")
        XCTAssertGreaterThanOrEqual(took, 1.5, "waited the connect timeout before giving up")
    }
}

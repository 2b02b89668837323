import Foundation
import XCTest
@testable import Cluster

/// One coordinator per store: a second one on the same folder is refused and names the holder,
/// so the unfinished images are never resumed (and computed) twice.
final class StoreLockTests: XCTestCase {
    func testASecondLockOnTheSameFolderIsRefusedUntilTheFirstIsReleased() throws {
        let folder = try temporaryFolder(self).path
        var first: StoreLock? = try StoreLock(directory: folder)
        XCTAssertThrowsError(try StoreLock(directory: folder)) { error in
            guard case .held(let directory, let holder)? = error as? StoreLockError else { return XCTFail("\(error)") }
            XCTAssertEqual(directory, folder)
            XCTAssertTrue(holder.hasPrefix("pid \(getpid()) on "), holder)
            XCTAssertTrue("\(error)".contains("another --store"), "the refusal says what to do: \(error)")
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertNoThrow(try StoreLock(directory: folder), "released with its holder")
    }

    func testASecondCoordinatorOnTheSameStoreIsRefused() throws {
        let folder = try temporaryFolder(self)
        func options() -> CoordinatorOptions {
            CoordinatorOptions(workersEndpoint: "tcp://127.0.0.1:*", clientsEndpoint: "tcp://127.0.0.1:*",
                               storeDirectory: folder.appendingPathComponent("store").path,
                               outputDirectory: folder.appendingPathComponent("output").path)
        }
        let context = try ZMQContext()
        var running: Coordinator? = try Coordinator(options: options(), context: context, log: ClusterLogging.silent("a"))
        XCTAssertThrowsError(try Coordinator(options: options(), context: context, log: ClusterLogging.silent("b"))) { error in
            XCTAssertNotNil(error as? StoreLockError, "\(error)")
        }
        XCTAssertNotNil(running)
        running = nil
        XCTAssertNoThrow(try Coordinator(options: options(), context: context, log: ClusterLogging.silent("c")),
                         "the store is free once its coordinator is gone")
    }
}

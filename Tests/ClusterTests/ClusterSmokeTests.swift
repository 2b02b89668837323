import XCTest
@testable import Cluster

final class ClusterSmokeTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertTrue(true)
    }
}

import XCTest
@testable import Compute

final class ComputeSmokeTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertTrue(true)
    }
}

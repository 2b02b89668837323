import XCTest
@testable import ShapesWorld

final class ShapesWorldSmokeTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertTrue(true)
    }
}

import XCTest
@testable import ImageIO

final class ImageIOSmokeTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertTrue(true)
    }
}

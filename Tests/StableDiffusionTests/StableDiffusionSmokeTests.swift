import XCTest
@testable import StableDiffusion

final class StableDiffusionSmokeTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertTrue(true)
    }
}

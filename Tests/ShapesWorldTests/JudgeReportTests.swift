import XCTest
@testable import ShapesWorld

final class JudgeReportTests: XCTestCase {
    func testCountsOnlyStatedAttributesAndAllAgreed() {
        var r = JudgeReport()
        r.add([.color: true, .shape: true])
        r.add([.color: true, .shape: false, .size: true])
        r.add([.background: true])
        XCTAssertEqual(r.images, 3)
        XCTAssertEqual(r.allAgreed, 2)
        XCTAssertEqual(r.attributes["color"], JudgeReport.Tally(stated: 2, agreed: 2))
        XCTAssertEqual(r.attributes["shape"]?.share, 0.5)
        XCTAssertNil(r.attributes["position"])
        XCTAssertTrue(r.text.contains("all stated"))
    }
}

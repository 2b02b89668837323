import XCTest
@testable import ShapesWorld

final class WorldSamplerTests: XCTestCase {
    private let examples = (0..<3000).map { WorldSampler.example(seed: 77, index: $0) }

    func testObjectColourIsNeverTheBackground() {
        XCTAssertTrue(examples.allSatisfy { $0.attributes.color != $0.attributes.background })
    }

    func testEveryValueOfEveryAttributeOccurs() {
        XCTAssertEqual(Set(examples.map(\.attributes.color)).count, 8)
        XCTAssertEqual(Set(examples.map(\.attributes.background)).count, 8)
        XCTAssertEqual(Set(examples.map(\.attributes.shape)).count, 5)
        XCTAssertEqual(Set(examples.map(\.attributes.size)).count, 2)
        XCTAssertEqual(Set(examples.map(\.attributes.position)).count, 5)
        XCTAssertEqual(Set(examples.map(\.attributes.pattern)).count, 3)
    }

    func testOptionalPartsAreLeftOutAboutAThirdOfTheTime() {
        // Binomial(3000, 1/3): mean 1000, sd 26; +-100 is about 4 sd.
        XCTAssertEqual(Double(examples.filter { $0.stated.size == nil }.count), 1000, accuracy: 100)
        XCTAssertEqual(Double(examples.filter { $0.stated.position == nil }.count), 1000, accuracy: 100)
        XCTAssertEqual(Double(examples.filter { $0.stated.background == nil }.count), 1000, accuracy: 100)
        let patterned = examples.filter { $0.attributes.pattern != .plain }
        let dropped = patterned.filter { $0.stated.pattern == nil }.count
        XCTAssertEqual(Double(dropped) / Double(patterned.count), 1.0 / 3.0, accuracy: 0.05)
    }

    func testStatedAttributesAreTrueOfTheImage() {
        for e in examples {
            XCTAssertEqual(e.stated.color, e.attributes.color)
            XCTAssertEqual(e.stated.shape, e.attributes.shape)
            if let v = e.stated.size { XCTAssertEqual(v, e.attributes.size) }
            if let v = e.stated.position { XCTAssertEqual(v, e.attributes.position) }
            if let v = e.stated.background { XCTAssertEqual(v, e.attributes.background) }
            if let v = e.stated.pattern { XCTAssertEqual(v, e.attributes.pattern); XCTAssertNotEqual(v, .plain) }
        }
    }

    func testJitterStaysWithinTheSpec() {
        for e in examples {
            XCTAssertLessThanOrEqual(abs(e.attributes.jitterX), 0.02)
            XCTAssertLessThanOrEqual(abs(e.attributes.jitterY), 0.02)
            XCTAssertTrue((0.95...1.05).contains(e.attributes.scale))
        }
    }
}

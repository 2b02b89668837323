import Foundation
import XCTest
@testable import StableDiffusion

final class PackedFloatsTests: XCTestCase {
    func testRoundTripKeepsEveryBitPattern() throws {
        let values: [Float] = [0, -0.0, 1, -1.5, .pi, .ulpOfOne, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                               .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234)]
        let data = try JSONEncoder().encode(PackedFloats(values))
        let back = try JSONDecoder().decode(PackedFloats.self, from: data)
        XCTAssertEqual(back.values.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testEncodesAsBase64OfLittleEndianBytes() throws {
        let json = String(decoding: try JSONEncoder().encode(PackedFloats([1])), as: UTF8.self)
        XCTAssertEqual(json, "\"AACAPw==\"")  // 1.0f = 0x3F800000, little-endian 00 00 80 3F
    }

    func testRejectsTextThatIsNotWholeFloats() {
        XCTAssertThrowsError(try JSONDecoder().decode(PackedFloats.self, from: Data("\"AACA\"".utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(PackedFloats.self, from: Data("\"not base64!\"".utf8)))
    }
}

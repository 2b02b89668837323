import XCTest
@testable import StableDiffusion

/// GPT-2's byte -> character table, checked against the committed vocabulary, whose first 256
/// ids are those characters in `bytes_to_unicode` order (the bytes that stand for themselves,
/// ascending, then the shifted ones, ascending) and the next 256 the same with `</w>` (facts.md).
final class ByteCharactersTests: XCTestCase {
    func testFirst256VocabularyIDsAreTheByteCharactersInGPT2Order() {
        let tokenizer = SharedTokenizer.shapes
        let standing = (0..<256).filter { ByteCharacters.characters[$0].value == UInt32($0) }
        let shifted = (0..<256).filter { ByteCharacters.characters[$0].value != UInt32($0) }
        XCTAssertEqual(standing.count, 188)
        for (id, byte) in (standing + shifted).enumerated() {
            let character = String(ByteCharacters.characters[byte])
            XCTAssertEqual(tokenizer.id(of: character), id, "byte \(byte)")
            XCTAssertEqual(tokenizer.id(of: character + "</w>"), 256 + id, "byte \(byte)")
        }
    }

    func testPrintableBytesStandForThemselvesAndOthersAreShifted() {
        XCTAssertEqual(ByteCharacters.characters[Int(UInt8(ascii: "a"))], "a")
        XCTAssertEqual(ByteCharacters.characters[0x20], "\u{120}")  // space is "Ġ"
        XCTAssertEqual(ByteCharacters.characters[0x00], "\u{100}")
    }

    func testTableIsABijection() {
        XCTAssertEqual(Set(ByteCharacters.characters).count, 256)
        for byte in 0..<256 {
            XCTAssertEqual(ByteCharacters.bytes[ByteCharacters.characters[byte]], UInt8(byte))
        }
    }
}

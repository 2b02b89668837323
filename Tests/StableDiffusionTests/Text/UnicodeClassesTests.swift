import Foundation
import XCTest
@testable import StableDiffusion

/// The character classes and mappings that the tokenizer's clean-up and word split rely on,
/// checked over every Unicode scalar against the `tokenizers` library (Fixtures/tokenizer):
/// Swift's Unicode tables and the library's must agree, or prompts with such characters
/// would tokenize differently.
final class UnicodeClassesTests: XCTestCase {
    let tables = TokenizerFixture.shared.unicode

    func testWhitespaceIsTheRegexEnginesBackslashS() {
        assertClass(.whitespace, matches: scalarSet(tables.whitespace))
    }

    func testLettersAreTheRegexEnginesLetterClass() {
        assertClass(.letter, matches: scalarSet(tables.letters))
    }

    func testNumbersAreTheRegexEnginesNumberClass() {
        assertClass(.number, matches: scalarSet(tables.numbers))
    }

    func testLowerCasingMapsEveryScalarLikeTheLowercaseNormalizer() {
        var mismatches: [String] = []
        for scalar in allScalars {
            var mapped: [Unicode.Scalar] = []
            TextCleaner.appendLowercased(scalar, to: &mapped)
            let expected = tables.lowercase[String(scalar.value)] ?? [scalar.value]
            if mapped.map(\.value) != expected { mismatches.append(hex(scalar.value)) }
        }
        XCTAssertEqual(mismatches, [], "scalars lower-cased differently from tokenizers")
    }

    func testNFCMapsEverySingleScalarLikeTheNFCNormalizer() {
        var mismatches: [String] = []
        for scalar in allScalars {
            let composed = String(scalar).precomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
            let expected = tables.nfcSingle[String(scalar.value)] ?? [scalar.value]
            if composed != expected { mismatches.append(hex(scalar.value)) }
        }
        XCTAssertEqual(mismatches, [], "scalars composed differently from tokenizers")
    }

    func testCleanerCollapsesWhitespaceRunsToOneSpace() {
        let cleaned = TextCleaner.clean("A\t\n B\u{3000}\u{A0}C")
        XCTAssertEqual(String(String.UnicodeScalarView(cleaned)), "a b c")
    }

    func testCleanerComposesBeforeLowerCasing() {
        let cleaned = TextCleaner.clean("E\u{301}")
        XCTAssertEqual(cleaned, ["\u{E9}"])
    }

    private func assertClass(_ kind: CharacterClass, matches expected: Set<UInt32>,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(expected.isEmpty, file: file, line: line)
        var mismatches: [String] = []
        for scalar in allScalars where (CharacterClass(scalar) == kind) != expected.contains(scalar.value) {
            mismatches.append(hex(scalar.value))
        }
        XCTAssertEqual(mismatches.prefix(50), [], "\(mismatches.count) scalars classified differently",
                       file: file, line: line)
    }

    private func hex(_ value: UInt32) -> String { "U+" + String(value, radix: 16, uppercase: true) }
}
